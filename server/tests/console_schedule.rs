//! The /schedule page's server function at its boundaries: no session is 401, a viewer reads the
//! two jobs with their schedule and next run, the history the scheduler wrote, and the pg_cron
//! section; the page itself renders with the navigation link.

mod console;

use chrono::{Duration, Utc};
use console::Console;
use partitioning::access::Role;
use partitioning::config::Config;
use partitioning::pg::scheduler;
use partitioning::schedule::Job;
use reqwest::StatusCode;

#[tokio::test]
async fn schedule_overview_shows_jobs_history_and_needs_a_session() {
    let c = Console::start().await;
    let anonymous = c.call("/api/schedule_overview", &[], None).await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.body
    );

    let slot = Utc::now() - Duration::minutes(3);
    let run = scheduler::run_slot(&c.db.pool, &Config::default(), Job::Create, slot)
        .await
        .unwrap()
        .expect("the slot was free");
    c.add_user("vera", Role::Viewer).await;
    let viewer = c.sign_in("vera").await;
    let reply = c.call("/api/schedule_overview", &[], Some(&viewer)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let jobs = v["jobs"].as_array().unwrap();
    assert_eq!(jobs[0]["job"], "create");
    assert_eq!(jobs[0]["schedule"], "daily@01:00");
    assert_eq!(jobs[1]["schedule"], "sun@02:00");
    assert_eq!(jobs[0]["last"]["id"], run.id);
    assert_eq!(jobs[0]["last"]["outcome"], "ok");
    assert!(jobs[1]["last"].is_null(), "cleanup never ran");
    let next = jobs[0]["next"].as_str().unwrap();
    assert!(next.ends_with("01:00:00Z"), "{next}");
    assert_eq!(v["history"].as_array().unwrap().len(), 1);
    // pg_cron: either its jobs (missing here) or the reason it cannot be used.
    assert!(
        v["cron_jobs"].is_array() || v["cron_problem"].is_string(),
        "{v}"
    );

    let page = Console::send(c.get("/schedule").header("cookie", &viewer.cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("href=\"/schedule\""),
        "the navigation links the page"
    );
}
