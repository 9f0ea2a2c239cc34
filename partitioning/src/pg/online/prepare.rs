//! Prepare: the checks that refuse before anything changes (target state, rows no partition can
//! hold, disk space, leftovers), the shadow table with its keys, grants and partitions, then the
//! capture trigger and the state row in one short transaction under `lock_timeout`.

use sqlx::PgPool;

use super::{
    backoff, is_lock_timeout, kept_name, pause_point, prelock, relkind, shadow_name, sql,
    CursorKind, OnlineError, OnlineOptions, PausePoint,
};
use crate::config::Config;
use crate::table::{quote_ident, ManagedTable};

pub(super) async fn prepare(
    pool: &PgPool,
    config: &Config,
    t: ManagedTable,
    migrate: bool,
    opts: &OnlineOptions,
) -> Result<(), OnlineError> {
    let name = t.name();
    let (want, have_word) = if migrate {
        ("r", "partitioned")
    } else {
        ("p", "an ordinary table")
    };
    match relkind(pool, name).await?.as_deref() {
        Some(k) if k == want => {}
        Some("p") | Some("r") => {
            return Err(OnlineError::AlreadyDone(format!("{name} is already {have_word}: nothing to do")))
        }
        _ => {
            return Err(OnlineError::Refused(format!(
                "{name} does not exist here; apply migrations 001–005 first (`rustcare-partitions db migrate`)"
            )))
        }
    }
    let kept = kept_name(t, migrate);
    if relkind(pool, &kept).await?.is_some() {
        let cmd = if migrate { "rollback" } else { "migrate" };
        return Err(OnlineError::Refused(format!(
            "{kept} exists (kept by an earlier {cmd}); drop it with `{cmd} --finish --table {name}` once you no longer need it"
        )));
    }
    let shadow = shadow_name(t, migrate);
    if relkind(pool, &shadow).await?.is_some() {
        // Left by a prepare killed before its state row was written: empty, ours, rebuilt.
        let rows: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM {}", quote_ident(&shadow)))
                .fetch_one(pool)
                .await?;
        if rows > 0 {
            return Err(OnlineError::Refused(format!(
                "{shadow} exists and holds {rows} rows but no migration is recorded for {name}; inspect and drop it"
            )));
        }
        sqlx::query(&format!("DROP TABLE {}", quote_ident(&shadow)))
            .execute(pool)
            .await?;
    }
    if migrate {
        let key = quote_ident(t.partition_column());
        let infinite: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {} WHERE {key} IN ('infinity', '-infinity')",
            quote_ident(name)
        ))
        .fetch_one(pool)
        .await?;
        if infinite > 0 {
            return Err(OnlineError::Refused(format!(
                "{name}: {infinite} row(s) have {key} = ±infinity, which no partition can hold; fix them first"
            )));
        }
    }
    check_disk(pool, t).await?;

    let mut tx = pool.begin().await?;
    for stmt in sql::create_shadow(t, migrate) {
        sqlx::query(&stmt).execute(&mut *tx).await?;
    }
    copy_grants(&mut tx, name, &shadow).await?;
    if migrate {
        sqlx::query(&sql::partition_function(t))
            .execute(&mut *tx)
            .await?;
        let ahead = config.policy(t).ahead;
        sqlx::query(&sql::create_partitions(t, ahead))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    if opts.pause_at == Some(PausePoint::Shadow) {
        // The shadow exists, no trigger nor state yet: a rerun must rebuild it.
        pause_point(PausePoint::Shadow).await;
    }

    // The trigger takes SHARE ROW EXCLUSIVE on the live table (and its partitions): briefly, under
    // lock_timeout after the pre-lock (`prelock`), and last in its transaction so the lock is held
    // only until the commit.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut tx = pool.begin().await?;
        let res: Result<(), sqlx::Error> = async {
            prelock(&mut tx, &quote_ident(name), opts.lock_timeout).await?;
            sqlx::query(
                "INSERT INTO online_migration (table_name, direction, phase, shadow_name, kept_name, cursor_kind) \
                 VALUES ($1, $2, 'prepared', $3, $4, $5) ON CONFLICT (table_name) DO UPDATE SET \
                 direction = EXCLUDED.direction, phase = 'prepared', shadow_name = EXCLUDED.shadow_name, \
                 kept_name = EXCLUDED.kept_name, rows_copied = 0, cursor_kind = EXCLUDED.cursor_kind, \
                 cursor_key = '-infinity', cursor_id = '00000000-0000-0000-0000-000000000000', \
                 started_at = now(), updated_at = now()",
            )
            .bind(name)
            .bind(if migrate { "migrate" } else { "rollback" })
            .bind(&shadow)
            .bind(&kept)
            .bind(CursorKind::for_direction(migrate).as_str())
            .execute(&mut *tx)
            .await?;
            sqlx::query(&sql::capture_function(t, migrate)).execute(&mut *tx).await?;
            sqlx::query(&sql::capture_trigger(t)).execute(&mut *tx).await?;
            Ok(())
        }
        .await;
        match res {
            Ok(()) => {
                tx.commit().await?;
                return Ok(());
            }
            Err(e) if is_lock_timeout(&e) && attempt < opts.swap_attempts => {
                drop(tx);
                backoff(attempt).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn copy_grants(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    from: &str,
    to: &str,
) -> Result<(), sqlx::Error> {
    let grants: Vec<(String, String)> = sqlx::query_as(
        "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END \
         FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = to_regclass(quote_ident($1)) AND a.grantee <> c.relowner",
    )
    .bind(from)
    .fetch_all(&mut **tx)
    .await?;
    for (privilege, grantee) in grants {
        sqlx::query(&format!(
            "GRANT {privilege} ON {} TO {grantee}",
            quote_ident(to)
        ))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Refuses when the data directory's filesystem has less free space than the table and its
/// indexes take, plus 10 %. Skipped (with a log line) when the directory cannot be read here.
async fn check_disk(pool: &PgPool, t: ManagedTable) -> Result<(), OnlineError> {
    let (bytes, dir): (i64, Option<String>) = sqlx::query_as(
        "SELECT coalesce(sum(pg_total_relation_size(r.relid)), 0)::bigint, \
                (SELECT setting FROM pg_settings WHERE name = 'data_directory') \
         FROM pg_partition_tree(to_regclass(quote_ident($1))) r",
    )
    .bind(t.name())
    .fetch_one(pool)
    .await?;
    let Some(free) = dir.as_deref().and_then(free_bytes) else {
        tracing::warn!(
            table = t.name(),
            "free disk space not checked: the data directory is not readable from here"
        );
        return Ok(());
    };
    let need = bytes.saturating_add(bytes / 10);
    if (free as i128) < i128::from(need) {
        return Err(OnlineError::Refused(format!(
            "{}: the copy needs about {} MB and the database's filesystem has {} MB free; free space first",
            t.name(),
            need / 1_048_576,
            free / 1_048_576
        )));
    }
    Ok(())
}

fn free_bytes(path: &str) -> Option<u64> {
    let c = std::ffi::CString::new(path).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `s` a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
    (rc == 0).then(|| s.f_bavail.saturating_mul(s.f_frsize))
}
