//! `rustcare-partitions report`: generates a HIPAA retention compliance report for a period,
//! stores it (CSV and PDF, as the console does), writes the file asked for and prints the SHA-256
//! of both files.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use partitioning::compliance::{parse_date, ReportFormat};
use partitioning::pg::compliance::{self, ReportError, ReportRequest};

use crate::context::{Ctx, Format, EXIT_OK, EXIT_USAGE};

#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// First day of the period, YYYY-MM-DD (UTC), inclusive.
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// Last day of the period, YYYY-MM-DD (UTC), inclusive; not after today.
    #[arg(long, value_name = "DATE")]
    pub to: String,
    /// Where to write the file (`--format csv` or `--format pdf` says which).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

fn usage(message: &str) -> anyhow::Result<u8> {
    eprintln!("error: {message}");
    Ok(EXIT_USAGE)
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// crash never leaves half a report where a whole one is expected.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Checks that `out` can be written: it is not a directory, its directory exists and a file can be
/// created there (probed with a temporary file, which also covers read-only mounts and ACLs that
/// permission bits would not show). The message says what to give instead.
fn check_out(out: &Path, format: ReportFormat) -> Result<(), String> {
    let example = |dir: &Path| dir.join(format.file_name(1)).display().to_string();
    let shown = out.display();
    if out.is_dir()
        || out
            .as_os_str()
            .to_string_lossy()
            .ends_with(std::path::MAIN_SEPARATOR)
    {
        return Err(format!(
            "--out {shown} is a directory: give a file name, e.g. {}",
            example(out)
        ));
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.exists() {
        return Err(format!(
            "--out {shown}: the directory {} does not exist: create it first (mkdir -p {}) or write elsewhere",
            dir.display(),
            dir.display()
        ));
    }
    if !dir.is_dir() {
        return Err(format!(
            "--out {shown}: {} is not a directory: give a path inside a directory, e.g. {}",
            dir.display(),
            example(Path::new("."))
        ));
    }
    let probe = dir.join(format!(".rustcare-report.{}.probe", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        // Left by an earlier run with the same pid that was killed: the directory is writable.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!(
            "--out {shown}: cannot write in {} ({e}): give a directory you can write to",
            dir.display()
        )),
    }
}

pub async fn run(ctx: &Ctx, args: &ReportArgs) -> anyhow::Result<u8> {
    let format = match ctx.format {
        Format::Csv => ReportFormat::Csv,
        Format::Pdf => ReportFormat::Pdf,
        Format::Text | Format::Json => {
            return usage(
                "report writes a file: give --format csv or --format pdf (and --out FILE)",
            )
        }
    };
    let (from, to) = match (
        parse_date("--from", &args.from),
        parse_date("--to", &args.to),
    ) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return usage(&e.0),
    };
    // Before anything is generated: a run refused here stores nothing and audits nothing.
    if let Err(message) = check_out(&args.out, format) {
        return usage(&message);
    }
    let db = crate::context::open_db().await?;
    let tables = ctx.tables();
    let request = ReportRequest {
        from,
        to,
        tables: &tables,
        generated_by: &ctx.actor,
    };
    let stored =
        match compliance::generate(&db.pool, &ctx.config.policies, &request, &ctx.actor).await {
            Ok(s) => s,
            Err(ReportError::Scope(e)) => return usage(&e.0),
            Err(e) => return Err(anyhow::Error::new(e).context("generating the compliance report")),
        };
    let file = compliance::download(
        &db.pool,
        stored.id,
        format,
        &ctx.actor,
        partitioning::access::Role::Admin,
    )
    .await
    .context("reading the stored report back")?
    .context("the stored report disappeared")?;
    write_atomically(&args.out, &file.bytes)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let verdicts: Vec<String> = stored
        .verdicts
        .iter()
        .map(|(t, ok, n)| {
            if *ok {
                format!("{t}: compliant")
            } else {
                format!("{t}: {n} finding(s)")
            }
        })
        .collect();
    println!(
        "compliance report {} stored: {} to {}, {}",
        stored.id,
        stored.period_from,
        stored.period_to,
        verdicts.join(", ")
    );
    println!(
        "  csv sha256 {}  ({} bytes)",
        stored.csv_sha256, stored.csv_bytes
    );
    println!(
        "  pdf sha256 {}  ({} bytes, {} pages)",
        stored.pdf_sha256, stored.pdf_bytes, stored.pdf_pages
    );
    println!(
        "wrote {} ({}, sha256 {})",
        args.out.display(),
        format.extension(),
        file.sha256
    );
    println!(
        "A compliance officer signs it in the console at /reports/{}.",
        stored.id
    );
    Ok(EXIT_OK)
}
