//! The health page: the checks of `monitor health` (`partitioning::health::check`), worst first,
//! each with what to do about it.

use leptos::prelude::*;
use partitioning::health::{Finding, HealthReport, Severity};

use crate::api::dashboard::get_health;
use crate::auth::ui::{error_text, ReloadLink};
use crate::dashboard::{severity_class, severity_word};

#[component]
pub fn HealthPage() -> impl IntoView {
    let report = Resource::new(|| (), |_| get_health());
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>"Health"</h1>
                <ReloadLink href="/health".to_string() label="Check again" testid="refresh-health"/>
            </div>
            <p class="muted small">"The same checks as " <code>"rustcare-partitions monitor health"</code>
                " (exit code 0 healthy, 1 warning, 2 critical)."</p>
            <Suspense fallback=|| view! { <p class="muted">"Checking…"</p> }>
                {move || report.get().map(|r| match r {
                    Ok(r) => view! { <Report report=r/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Report(report: HealthReport) -> impl IntoView {
    let worst = report.worst();
    let mut findings = report.findings;
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let problems = findings
        .iter()
        .filter(|f| f.severity != Severity::Ok)
        .count();
    view! {
        <p data-testid="health-summary">
            <span class=format!("badge {}", severity_class(worst)) data-testid="health-worst">{severity_word(worst)}</span>
            " " {if problems == 0 { "Nothing needs doing.".to_string() } else { format!("{problems} finding(s) need attention.") }}
            <span class="muted">" Checked " {report.checked_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</span>
        </p>
        <table class="data" data-testid="findings">
            <thead>
                <tr>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Check"</th>
                    <th scope="col">"Table"</th>
                    <th scope="col">"What was seen"</th>
                    <th scope="col">"What to do"</th>
                </tr>
            </thead>
            <tbody>
                {findings.into_iter().map(|f| view! { <FindingRow finding=f/> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn FindingRow(finding: Finding) -> impl IntoView {
    let table = finding
        .table
        .map(|t| t.name().to_string())
        .unwrap_or_else(|| "server".to_string());
    view! {
        <tr data-testid="finding" data-check=finding.check data-severity=finding.severity.as_str()>
            <td><span class=format!("badge {}", severity_class(finding.severity))>{severity_word(finding.severity)}</span></td>
            <td><code>{finding.check}</code></td>
            <td><code>{table}</code></td>
            <td>{finding.message}</td>
            <td>{if finding.remedy.is_empty() { "—".to_string() } else { finding.remedy }}</td>
        </tr>
    }
}
