//! `/reports`: HIPAA retention compliance reports. Compliance officers and admins generate one for
//! a period and a set of tables; everyone sees the stored reports their role may open (DBAs and
//! viewers: signed ones), each with its verdict, the SHA-256 of its CSV and PDF, and who signed.

use chrono::{Datelike, NaiveDate};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use partitioning::compliance::StoredReport;
use partitioning::table::ManagedTable;

use crate::api::reports::{list_reports, GenerateReport};
use leptos::server_fn::ServerFn;

use crate::auth::ui::error_text;
use crate::forms::{After, PostForm};

/// `1a2b3c4d…9e8f`: enough of a hash to compare by eye; the full value is in the title and on
/// the report page.
pub fn short_hash(h: &str) -> String {
    if h.len() > 16 {
        format!("{}…{}", &h[..8], &h[h.len() - 8..])
    } else {
        h.to_string()
    }
}

#[component]
pub fn VerdictBadge(compliant: bool, findings: i64) -> impl IntoView {
    if compliant {
        view! { <span class="badge ok" data-testid="verdict">"compliant"</span> }.into_any()
    } else {
        let text = if findings == 1 {
            "1 finding".to_string()
        } else {
            format!("{findings} findings")
        };
        view! { <span class="badge crit" data-testid="verdict">{text}</span> }.into_any()
    }
}

#[component]
pub fn ReportsPage() -> impl IntoView {
    let query = use_query_map();
    // Set by the generate form when it loads the page again after storing a report.
    let generated =
        query.with_untracked(|q| q.get("generated").and_then(|g| g.parse::<i64>().ok()));
    let list = Resource::new(|| (), |_| list_reports());
    view! {
        <section class="panel">
            <h1>"Compliance reports"</h1>
            <p class="muted small">"HIPAA retention reports: each table's policy and its legal basis, the partition inventory over the whole retention window with every gap, the disposal log with requesters, approvers and plan fingerprints, findings and a verdict per table. Every report is stored as generated; its CSV and PDF download byte-identical, and their SHA-256 is recorded in the audit trail."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading reports…"</p> }>
                {move || list.get().map(|r| match r {
                    Ok(l) => view! {
                        {l.can_generate.then(|| view! { <h2>"Generate a report"</h2> <GenerateForm today=l.today/> })}
                        {generated.and_then(|id| l.reports.iter().find(|r| r.id == id)).map(generated_notice)}
                        {(l.hidden_unsigned > 0).then(|| view! {
                            <p class="notice-info small" data-testid="hidden-unsigned">{format!(
                                "{} unsigned report(s) are not listed: your role reads a report once a compliance officer has signed it.",
                                l.hidden_unsigned)}</p>
                        })}
                        <ReportTable reports=l.reports/>
                    }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// "Report #7 stored: …", for the report just generated, from the stored row.
fn generated_notice(s: &StoredReport) -> impl IntoView {
    view! {
        <p class="notice" data-testid="report-generated" data-id=s.id.to_string()>
            "Report " <a href=format!("/reports/{}", s.id)>{format!("#{}", s.id)}</a>
            {format!(" stored: {} to {}, {}. CSV SHA-256 {}, PDF SHA-256 {}.",
                s.period_from, s.period_to,
                if s.compliant { "compliant".to_string() } else { format!("{} finding(s)", s.findings) },
                s.csv_sha256, s.pdf_sha256)}
        </p>
    }
}

/// The form, posted to the generate server function; once the report is stored, the page loads
/// again with it in the list and the notice above.
#[component]
fn GenerateForm(today: NaiveDate) -> impl IntoView {
    let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    view! {
        <PostForm endpoint=GenerateReport::PATH then=After::GoToId("/reports?generated=".to_string())
            class="inline-form" testid="report-form">
            <label>"First day (UTC)" <input type="date" name="from" required value=year_start.to_string() data-testid="report-from"/></label>
            <label>"Last day (UTC)" <input type="date" name="to" required value=today.to_string() max=today.to_string() data-testid="report-to"/></label>
            <fieldset class="tables">
                <legend class="small muted">"Tables (none ticked: all four)"</legend>
                {ManagedTable::ALL.into_iter().map(|t| view! {
                    <label class="check"><input type="checkbox" name=t.name() value="on" checked=true data-testid=format!("report-table-{}", t.name())/>{t.name()}</label>
                }).collect_view()}
            </fieldset>
            <button class="button primary" type="submit" data-testid="report-generate">"Generate report"</button>
        </PostForm>
    }
}

#[component]
fn ReportTable(reports: Vec<StoredReport>) -> impl IntoView {
    if reports.is_empty() {
        return view! { <p class="muted" data-testid="no-reports">"No reports yet."</p> }
            .into_any();
    }
    view! {
        <table class="data" data-testid="reports">
            <thead><tr>
                <th scope="col">"Report"</th><th scope="col">"Period (UTC)"</th><th scope="col">"Tables"</th>
                <th scope="col">"Generated (UTC)"</th><th scope="col">"Verdict"</th>
                <th scope="col">"CSV"</th><th scope="col">"PDF"</th><th scope="col">"Signed by"</th>
            </tr></thead>
            <tbody>
                {reports.into_iter().map(|r| {
                    let id = r.id;
                    let signed = r.signatures.iter().map(|s| format!("{} ({})", s.signer_name, s.signed_at.format("%Y-%m-%d %H:%M"))).collect::<Vec<_>>().join(", ");
                    view! {
                        <tr data-testid="report-row" data-id=id.to_string()>
                            <td><a href=format!("/reports/{id}")>{format!("#{id}")}</a></td>
                            <td class="num">{format!("{} – {}", r.period_from, r.period_to)}</td>
                            <td class="small">{r.tables.join(", ")}</td>
                            <td class="num">{format!("{} by {}", r.generated_at.format("%Y-%m-%d %H:%M"), r.generated_by)}</td>
                            <td><VerdictBadge compliant=r.compliant findings=i64::from(r.findings)/></td>
                            <td><a href=format!("/reports/{id}/report.csv") download title=r.csv_sha256.clone() rel="external">"CSV"</a>
                                " " <code class="small" data-testid="csv-sha">{short_hash(&r.csv_sha256)}</code></td>
                            <td><a href=format!("/reports/{id}/report.pdf") download title=r.pdf_sha256.clone() rel="external">{format!("PDF, {} p.", r.pdf_pages)}</a>
                                " " <code class="small" data-testid="pdf-sha">{short_hash(&r.pdf_sha256)}</code></td>
                            <td data-testid="signed-by">{if signed.is_empty() {
                                view! { <span class="badge warn">"not signed"</span> }.into_any()
                            } else {
                                view! { <span class="badge ok">"signed"</span> " " <span class="small">{signed}</span> }.into_any()
                            }}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }.into_any()
}
