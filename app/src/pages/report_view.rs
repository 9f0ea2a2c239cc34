//! `/reports/:id`: one stored compliance report in full (the same model its CSV and PDF were
//! rendered from), its files with their SHA-256, its signatures, and for compliance officers and
//! admins the attestation to sign.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use partitioning::calendar::{human_instant, Period};
use partitioning::compliance::{ComplianceReport, InventoryRow, Severity};
use partitioning::table::ManagedTable;

use super::reports::VerdictBadge;
use crate::api::reports::{get_report, ReportPage, SignReport};
use leptos::server_fn::ServerFn;

use crate::auth::ui::error_text;
use crate::forms::{After, PostForm};

fn span(lower: Option<DateTime<Utc>>, upper: Option<DateTime<Utc>>) -> String {
    match (lower, upper) {
        (Some(l), Some(u)) => format!("{} – {}", human_instant(l), human_instant(u)),
        _ => String::new(),
    }
}

#[component]
pub fn ReportViewPage() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|p| p.get("id").and_then(|s| s.parse::<i64>().ok()));
    let page = Resource::new(
        move || id,
        |id| async move {
            match id {
                Some(id) => get_report(id).await,
                None => Err(ServerFnError::new(
                    "That is not a report number: open a report from /reports.",
                )),
            }
        },
    );
    view! {
        <Suspense fallback=|| view! { <section class="panel"><p class="muted">"Loading the report…"</p></section> }>
            {move || page.get().map(|r| match r {
                Ok(p) => view! { <Report page=p/> }.into_any(),
                Err(e) => view! { <section class="panel"><p class="error" role="alert" data-testid="report-refused">{error_text(&e)}</p></section> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn Report(page: ReportPage) -> impl IntoView {
    let ReportPage {
        stored,
        report,
        can_sign,
        signed_by_me,
    } = page;
    let id = stored.id;
    let s = &report.scope;
    let title = format!("Compliance report #{id}: {} to {}", s.from, s.to);
    view! {
        <section class="panel" data-testid="report" data-id=id.to_string()>
            <div class="panel-head">
                <h1>{title}</h1>
                <VerdictBadge compliant=stored.compliant findings=i64::from(stored.findings)/>
            </div>
            <table class="data compact">
                <tbody>
                    <tr><th scope="row">"Tables"</th><td>{stored.tables.join(", ")}</td></tr>
                    <tr><th scope="row">"Generated"</th><td>{format!("{} UTC by {}", s.generated_at.format("%Y-%m-%d %H:%M:%S"), s.generated_by)}</td></tr>
                    <tr><th scope="row">"CSV"</th><td>
                        <a href=format!("/reports/{id}/report.csv") download rel="external" data-testid="download-csv">"Download CSV"</a>
                        {format!(" ({} bytes) SHA-256 ", stored.csv_bytes)}<code data-testid="csv-sha256">{stored.csv_sha256.clone()}</code></td></tr>
                    <tr><th scope="row">"PDF"</th><td>
                        <a href=format!("/reports/{id}/report.pdf") download rel="external" data-testid="download-pdf">"Download PDF"</a>
                        {format!(" ({} pages, {} bytes) SHA-256 ", stored.pdf_pages, stored.pdf_bytes)}<code data-testid="pdf-sha256">{stored.pdf_sha256.clone()}</code></td></tr>
                </tbody>
            </table>
            <p class="muted small">"Downloads serve the files stored when the report was generated, byte for byte; each download is recorded in the audit trail. The PDF's footer carries the CSV's SHA-256 on every page."</p>
        </section>
        <Signatures stored_signatures=stored.signatures.clone() attestation=report.attestation.clone() id can_sign signed_by_me/>
        <Sections report/>
    }
}

#[component]
fn Signatures(
    stored_signatures: Vec<partitioning::compliance::ReportSignature>,
    attestation: String,
    id: i64,
    can_sign: bool,
    signed_by_me: bool,
) -> impl IntoView {
    let signed = !stored_signatures.is_empty();
    view! {
        <section class="panel" data-testid="attestation">
            <h2>"Attestation"</h2>
            <blockquote class="attestation">{attestation.clone()}</blockquote>
            {if signed {
                view! {
                    <table class="data" data-testid="signatures">
                        <thead><tr><th scope="col">"Signed by"</th><th scope="col">"Role"</th><th scope="col">"At (UTC)"</th><th scope="col">"Covers"</th><th scope="col">"Audit trail"</th></tr></thead>
                        <tbody>{stored_signatures.into_iter().map(|s| view! {
                            <tr data-testid="signature"><td>{format!("{} ({})", s.signer_name, s.signer)}</td><td>{s.role}</td>
                                <td class="num">{s.signed_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                                <td class="small"><code>{format!("CSV {}", s.csv_sha256)}</code><br/><code>{format!("PDF {}", s.pdf_sha256)}</code></td>
                                <td class="num">{format!("entry #{}", s.audit_id)}</td></tr>
                        }).collect_view()}</tbody>
                    </table>
                }.into_any()
            } else {
                view! { <p><span class="badge warn" data-testid="unsigned">"not signed"</span> " DBAs and viewers can read this report once it is signed."</p> }.into_any()
            }}
            {(can_sign && !signed_by_me).then(|| view! { <SignForm id/> })}
        </section>
    }
}

/// The signing form, posted to the sign server function; once signed, the page loads again and
/// shows the signature from the store.
#[component]
fn SignForm(id: i64) -> impl IntoView {
    view! {
        <PostForm endpoint=SignReport::PATH then=After::Reload class="stacked sign-form" testid="sign-form">
            <input type="hidden" name="id" value=id.to_string()/>
            <label>"Your full name" <input name="name" required maxlength="100" autocomplete="name" data-testid="sign-name"/></label>
            <label class="check"><input type="checkbox" name="confirm" value="yes" required data-testid="sign-confirm"/>
                "I make the statement above about this report (its CSV and PDF as stored, identified by their SHA-256)."</label>
            <button class="button primary" type="submit" data-testid="sign-submit">{format!("Sign report #{id}")}</button>
            <p class="muted small">"The signature is recorded in the audit trail with both files' SHA-256; the files themselves are not changed."</p>
        </PostForm>
    }
}

#[component]
fn Sections(report: ComplianceReport) -> impl IntoView {
    let findings = report.findings.clone();
    view! {
        <section class="panel">
            <h2>"Verdict per table"</h2>
            <table class="data" data-testid="verdicts">
                <thead><tr><th scope="col">"Table"</th><th scope="col">"Verdict"</th><th scope="col">"Summary"</th></tr></thead>
                <tbody>{report.verdicts.iter().map(|v| view! {
                    <tr data-testid="verdict-row" data-table=v.table.name()><th scope="row">{v.table.name()}</th>
                        <td><VerdictBadge compliant=v.compliant findings=v.findings as i64/></td><td>{v.summary.clone()}</td></tr>
                }).collect_view()}</tbody>
            </table>
        </section>
        <section class="panel">
            <h2>"Retention policy and its basis"</h2>
            <table class="data">
                <thead><tr><th scope="col">"Table"</th><th scope="col">"Retention"</th><th scope="col">"Governs"</th><th scope="col">"Cutoff"</th><th scope="col">"Cleanup"</th><th scope="col">"Basis"</th></tr></thead>
                <tbody>{report.policies.iter().map(|p| view! {
                    <tr><th scope="row">{p.table.name()}</th><td>{format!("{} ({} partitions)", p.retention, match p.period { Period::Month => "monthly", Period::Week => "weekly", Period::Day => "daily" })}</td>
                        <td>{p.governs.as_str().replace('_', " ")}</td><td class="num">{human_instant(p.cutoff)}</td>
                        <td>{p.cleanup.as_str()}</td><td class="small">{p.basis.clone()}</td></tr>
                }).collect_view()}</tbody>
            </table>
        </section>
        <section class="panel">
            <h2>"Findings and exceptions"</h2>
            {if findings.is_empty() { view! { <p class="muted">"None."</p> }.into_any() } else { view! {
                <table class="data" data-testid="findings">
                    <thead><tr><th scope="col">"Table"</th><th scope="col">"Severity"</th><th scope="col">"Kind"</th><th scope="col">"Partition"</th><th scope="col">"Period"</th><th scope="col">"Explanation"</th></tr></thead>
                    <tbody>{findings.into_iter().map(|f| {
                        let bad = f.severity == Severity::Finding;
                        view! {
                            <tr data-testid="finding" data-kind=f.kind.as_str() data-table=f.table.name()>
                                <td>{f.table.name()}</td>
                                <td><span class=if bad { "badge crit" } else { "badge neutral" }>{f.severity.as_str()}</span></td>
                                <td>{f.kind.title()}</td><td><code>{f.partition.clone()}</code></td>
                                <td class="num">{span(f.lower, f.upper)}</td><td class="small">{f.explanation.clone()}</td>
                            </tr>
                        }
                    }).collect_view()}</tbody>
                </table>
            }.into_any() }}
        </section>
        <section class="panel">
            <h2>"Disposal log (drops inside the period)"</h2>
            {if report.disposals.is_empty() { view! { <p class="muted">"No partition was dropped in the period."</p> }.into_any() } else { view! {
                <table class="data" data-testid="disposals">
                    <thead><tr><th scope="col">"Partition"</th><th scope="col">"Period"</th><th scope="col">"Dropped (UTC)"</th><th scope="col" class="num">"Rows"</th>
                        <th scope="col">"Executed by"</th><th scope="col">"Requested by"</th><th scope="col">"Approvers"</th><th scope="col">"Plan fingerprint"</th><th scope="col">"Policy"</th></tr></thead>
                    <tbody>{report.disposals.iter().map(|d| view! {
                        <tr data-testid="disposal" data-partition=d.partition.clone()>
                            <td><code>{d.partition.clone()}</code></td><td class="num">{span(d.lower, d.upper)}</td>
                            <td class="num">{d.dropped_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                            <td class="num">{d.rows.map(|n| n.to_string()).unwrap_or_default()}</td>
                            <td>{d.executed_by.clone()}</td>
                            <td>{match d.request_id { Some(r) => format!("{} (request #{r})", d.requested_by), None => d.requested_by.clone() }}</td>
                            <td>{d.approvers.join(", ")}</td><td><code class="small">{d.fingerprint.clone()}</code></td>
                            <td>{if d.within_policy { view! { <span class="badge ok">"within policy"</span> }.into_any() } else { view! { <span class="badge crit">"early"</span> }.into_any() }}</td>
                        </tr>
                    }).collect_view()}</tbody>
                </table>
            }.into_any() }}
        </section>
        <section class="panel">
            <h2>"Partition inventory over the retention window"</h2>
            {ManagedTable::ALL.into_iter().filter(|t| report.scope.tables.contains(t)).map(|t| {
                let rows: Vec<InventoryRow> = report.inventory.iter().filter(|r| r.table == t).cloned().collect();
                let gaps = rows.iter().filter(|r| r.is_problem()).count();
                view! { <Inventory table=t rows gaps/> }
            }).collect_view()}
        </section>
    }
}

#[component]
fn Inventory(table: ManagedTable, rows: Vec<InventoryRow>, gaps: usize) -> impl IntoView {
    let summary = format!("{table}: {} rows, {gaps} gap(s) or problem(s)", rows.len());
    view! {
        <details open=gaps > 0 data-testid="inventory" data-table=table.name()>
            <summary>{summary}</summary>
            <table class="data compact">
                <thead><tr><th scope="col">"Partition"</th><th scope="col">"From"</th><th scope="col">"To"</th><th scope="col">"Status"</th><th scope="col" class="num">"Rows (est.)"</th><th scope="col">"Note"</th></tr></thead>
                <tbody>{rows.into_iter().map(|r| {
                    let class = if r.is_problem() { "badge crit" } else { "badge ok" };
                    view! {
                        <tr data-testid="inventory-row" data-status=r.status.as_str()>
                            <td><code>{r.partition.clone()}</code></td>
                            <td class="num">{r.lower.map(human_instant).unwrap_or_default()}</td>
                            <td class="num">{r.upper.map(human_instant).unwrap_or_default()}</td>
                            <td><span class=class>{r.status.as_str().replace('_', " ")}</span></td>
                            <td class="num">{r.rows.to_string()}</td><td class="small">{r.note.clone()}</td>
                        </tr>
                    }
                }).collect_view()}</tbody>
            </table>
        </details>
    }
}
