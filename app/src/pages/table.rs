//! One table's page (`/tables/:name`): its charts, then every partition with bounds, estimated
//! rows, size, tablespace and status, filtered, sorted and paged on the server (the URL holds
//! the query, so a view can be bookmarked and works without WASM).

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};
use partitioning::table::ManagedTable;

use crate::api::dashboard::{get_table_charts, table_partitions};
use crate::auth::ui::error_text;
use crate::charts::bars::SizeBars;
use crate::charts::growth::GrowthLine;
use crate::charts::status_class;
use crate::charts::timeline::PartitionTimeline;
use crate::dashboard::series::TableCharts;
use crate::dashboard::{PartitionPage, PartitionQuery, PartitionRow, PartitionStatus, SortKey};
use crate::format::{bound_date, count, human_bytes};

fn query_from(get: impl Fn(&str) -> Option<String>) -> PartitionQuery {
    PartitionQuery {
        sort: SortKey::parse(&get("sort").unwrap_or_default()),
        desc: get("dir").as_deref() == Some("desc"),
        status: get("status").as_deref().and_then(PartitionStatus::parse),
        name: get("q").unwrap_or_default(),
        page: get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
        per_page: get("per").and_then(|p| p.parse().ok()).unwrap_or(0),
    }
}

/// The URL of `table`'s page showing `q`.
fn href(table: &str, q: &PartitionQuery) -> String {
    let mut parts = vec![format!("sort={}", q.sort.key())];
    if q.desc {
        parts.push("dir=desc".into());
    }
    if let Some(s) = q.status {
        parts.push(format!("status={}", s.key()));
    }
    if !q.name.is_empty() {
        let safe: String = q
            .name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        parts.push(format!("q={safe}"));
    }
    if q.per_page != 0 {
        parts.push(format!("per={}", q.per_page));
    }
    parts.push(format!("page={}", q.page));
    format!("/tables/{table}?{}", parts.join("&"))
}

#[component]
pub fn TablePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.with(|p| p.get("name").unwrap_or_default());
    let known = move || ManagedTable::parse(&name()).is_ok();
    #[cfg(feature = "ssr")]
    if !known() {
        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
            res.set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }
    let q = move || query.with(|m| query_from(|k| m.get(k)));
    let page = Resource::new(move || (name(), q()), |(n, q)| table_partitions(n, q));
    let charts = Resource::new(name, get_table_charts);
    view! {
        <Show when=known fallback=move || view! { <UnknownTable name=name()/> }>
            <section class="panel">
                <div class="panel-head">
                    <h1><code>{name}</code></h1>
                    <A href="/">"← Overview"</A>
                </div>
                <Suspense fallback=|| view! { <p class="muted">"Drawing charts…"</p> }>
                    {move || charts.get().map(|r| match r {
                        Ok(c) => view! { <Charts charts=c/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                    })}
                </Suspense>
            </section>
            <section class="panel">
                <Suspense fallback=|| view! { <p class="muted">"Reading partitions…"</p> }>
                    {move || page.get().map(|r| match r {
                        Ok(p) => view! { <Partitions page=p query=q()/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                    })}
                </Suspense>
            </section>
        </Show>
    }
}

/// The table's three charts: an island, so the browser draws them (from the series the page
/// carries) and the rest of the page stays plain server-rendered HTML.
#[island]
fn Charts(charts: TableCharts) -> impl IntoView {
    view! {
        <PartitionTimeline timeline=charts.timeline/>
        <div class="chart-pair">
            <SizeBars bars=charts.bars omitted=charts.bars_omitted/>
            <GrowthLine points=charts.growth sample_minutes=charts.sample_minutes/>
        </div>
    }
}

#[component]
fn UnknownTable(name: String) -> impl IntoView {
    view! {
        <section class="panel" data-testid="unknown-table">
            <h1>"No such table"</h1>
            <p><code>{name}</code> " is not a managed table. The managed tables are:"</p>
            <ul>
                {ManagedTable::ALL.into_iter().map(|t| view! {
                    <li><A href=format!("/tables/{}", t.name())><code>{t.name()}</code></A></li>
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn Partitions(page: PartitionPage, query: PartitionQuery) -> impl IntoView {
    let table = page.table.name();
    let desc_now = query.desc;
    let sort_query = query.clone();
    let nav_query = query.clone();
    let sort_link = move |key: SortKey, label: &'static str| {
        let desc = sort_query.sort == key && !sort_query.desc;
        let arrow = match (sort_query.sort == key, sort_query.desc) {
            (true, false) => " ▲",
            (true, true) => " ▼",
            _ => "",
        };
        let target = PartitionQuery {
            sort: key,
            desc,
            page: 1,
            ..sort_query.clone()
        };
        view! { <A href=href(table, &target) attr:data-testid=format!("sort-{}", key.key())>{label}{arrow}</A> }
    };
    let status_options = PartitionStatus::ALL
        .into_iter()
        .map(|s| {
            let n = page.counts.iter().find(|(c, _)| *c == s).map_or(0, |(_, n)| *n);
            view! { <option value=s.key() selected=query.status == Some(s)>{format!("{} ({n})", s.word())}</option> }
        })
        .collect_view();
    let nav = |p: usize, label: &'static str, enabled: bool| {
        let target = PartitionQuery {
            page: p,
            ..nav_query.clone()
        };
        if enabled {
            view! { <A href=href(table, &target) attr:class="button small" attr:data-testid=format!("page-{}", label.to_lowercase())>{label}</A> }.into_any()
        } else {
            view! { <span class="button small disabled">{label}</span> }.into_any()
        }
    };
    let first = (page.page - 1) * page.per_page + 1;
    let last = (first + page.rows.len()).saturating_sub(1);
    view! {
        <div class="panel-head">
            <h2>"Partitions"</h2>
            <span class="muted" data-testid="showing">
                {if page.matching == 0 { "none match".to_string() } else {
                    format!("{}–{} of {} matching ({} in all)", count(first as i64), count(last as i64), count(page.matching as i64), count(page.total as i64))
                }}
            </span>
        </div>
        <form class="inline-form" method="get" action=format!("/tables/{table}") data-testid="filter">
            <label>"Status"
                <select name="status" data-testid="filter-status">
                    <option value="" selected=query.status.is_none()>{format!("any ({})", page.total)}</option>
                    {status_options}
                </select>
            </label>
            <label>"Name contains" <input name="q" value=query.name.clone() data-testid="filter-name" placeholder="2025_10"/></label>
            <input type="hidden" name="sort" value=query.sort.key()/>
            <input type="hidden" name="dir" value={if desc_now { "desc" } else { "asc" }}/>
            <button class="button" type="submit" data-testid="filter-apply">"Filter"</button>
        </form>
        <table class="data" data-testid="partitions">
            <thead>
                <tr>
                    <th scope="col">{sort_link(SortKey::Name, "Partition")}</th>
                    <th scope="col">{sort_link(SortKey::Bounds, "From (UTC)")}</th>
                    <th scope="col">"To (UTC)"</th>
                    <th scope="col" class="num">{sort_link(SortKey::Rows, "Rows (est.)")}</th>
                    <th scope="col" class="num">{sort_link(SortKey::Size, "Size (est.)")}</th>
                    <th scope="col">"Tablespace"</th>
                    <th scope="col">{sort_link(SortKey::Status, "Status")}</th>
                </tr>
            </thead>
            <tbody>
                {page.rows.into_iter().map(|r| view! { <Row row=r/> }).collect_view()}
            </tbody>
        </table>
        <div class="pager">
            {nav(1, "First", page.page > 1)}
            {nav(page.page.saturating_sub(1).max(1), "Previous", page.page > 1)}
            <span data-testid="page-of">{format!("page {} of {}", page.page, page.pages)}</span>
            {nav(page.page + 1, "Next", page.page < page.pages)}
            {nav(page.pages, "Last", page.page < page.pages)}
        </div>
        <p class="muted footnote">
            "Sizes and rows are estimates from the catalog (relpages, reltuples); exact sizes are sampled in the background for the growth chart. "
            "Retention cutoff: " {page.cutoff.format("%Y-%m-%d %H:%M UTC").to_string()} "."
        </p>
    }
}

#[component]
fn Row(row: PartitionRow) -> impl IntoView {
    let bounds = row.lower.is_some();
    view! {
        <tr data-testid="partition-row" data-name=row.name.clone() data-status=row.status.key()>
            <th scope="row"><code>{row.name.clone()}</code></th>
            {if bounds {
                view! { <td class="num">{bound_date(row.lower)}</td><td class="num">{bound_date(row.upper)}</td> }.into_any()
            } else {
                view! { <td colspan="2"><code>{if row.raw_bound.is_empty() { "detached".to_string() } else { row.raw_bound.clone() }}</code></td> }.into_any()
            }}
            <td class="num" data-value=row.est_rows>{count(row.est_rows)}</td>
            <td class="num" data-value=row.bytes title=format!("{} bytes", count(row.bytes))>{human_bytes(row.bytes)}</td>
            <td>{row.tablespace.clone().unwrap_or_else(|| "default".to_string())}</td>
            <td><span class=format!("status {}", status_class(row.status))>{row.status.word()}</span></td>
        </tr>
    }
}
