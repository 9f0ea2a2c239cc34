//! The home page: the four managed tables with partition count, size and span.

use leptos::prelude::*;
use partitioning::overview::TableOverview;

use crate::api::list_table_overview;
use crate::auth::ui::ReloadLink;
use crate::format::{bound_date, count, human_bytes};

#[component]
pub fn HomePage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| list_table_overview());
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>"Partitioned tables"</h1>
                <ReloadLink href="/".to_string() label="Refresh" testid="refresh"/>
            </div>
            <Suspense fallback=|| view! { <p class="muted">"Reading the catalog…"</p> }>
                {move || overview.get().map(|result| match result {
                    Ok(rows) => view! { <OverviewTable rows/> }.into_any(),
                    Err(e) => view! {
                        <p class="error" role="alert">{e.to_string()}</p>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn OverviewTable(rows: Vec<TableOverview>) -> impl IntoView {
    view! {
        <table class="data" data-testid="overview">
            <thead>
                <tr>
                    <th scope="col">"Table"</th>
                    <th scope="col" class="num">"Partitions"</th>
                    <th scope="col" class="num">"Size on disk"</th>
                    <th scope="col" class="num">"Rows (est.)"</th>
                    <th scope="col">"Oldest bound"</th>
                    <th scope="col">"Newest bound"</th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|row| view! { <OverviewRow row/> }).collect_view()}
            </tbody>
        </table>
        <p class="muted footnote">
            "Bounds are UTC. Sizes on disk are exact (heap, indexes, TOAST and their maps); the cards "
            "above show the catalog's estimate (pages counted at the last VACUUM or ANALYZE), which "
            "lags behind recent writes and leaves out the maps. Row counts are planner estimates."
        </p>
    }
}

#[component]
fn OverviewRow(row: TableOverview) -> impl IntoView {
    let missing = (!row.present).then(|| view! { <span class="badge warn">"not created"</span> });
    view! {
        <tr data-testid="table-row" data-table=row.table.clone()>
            <th scope="row"><code>{row.table.clone()}</code> " " {missing}</th>
            <td class="num" data-testid="partitions" data-value=row.partitions>{count(row.partitions)}</td>
            <td class="num" data-testid="size" data-value=row.total_bytes title=format!("{} bytes", count(row.total_bytes))>
                {human_bytes(row.total_bytes)}
            </td>
            <td class="num" data-testid="rows" data-value=row.est_rows>{count(row.est_rows)}</td>
            <td data-testid="oldest">{bound_date(row.oldest_bound)}</td>
            <td data-testid="newest">{bound_date(row.newest_bound)}</td>
        </tr>
    }
}
