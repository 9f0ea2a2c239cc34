//! `/users`: console accounts, for admins: list, add with a role, change a role, disable or
//! enable, reset a password. Every form goes through a server function that checks the role again.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::auth::api::{
    list_accounts, AddAccount, ResetAccountPassword, SetAccountDisabled, SetAccountRole,
};
use crate::auth::ui::{error_text, Restricted};
use crate::auth::{AccountRow, Capability, Role};
use crate::forms::{After, Flash, PostForm};
use leptos::server_fn::ServerFn;

#[component]
pub fn UsersPage() -> impl IntoView {
    view! {
        <Restricted cap=Capability::ManageUsers>
            <Accounts/>
        </Restricted>
    }
}

/// The list and the forms, rendered on the server. Each form is a [`PostForm`] to its server
/// function (which checks the role again); after it the page loads again with the answer.
#[component]
fn Accounts() -> impl IntoView {
    let accounts = Resource::new(|| (), |_| list_accounts());
    view! {
        <section class="panel">
            <h1>"Console accounts"</h1>
            <Flash/>
            <Suspense fallback=|| view! { <p class="muted">"Reading accounts…"</p> }>
                {move || accounts.get().map(|r| match r {
                    Ok(rows) => view! { <AccountTable rows/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                })}
            </Suspense>
        </section>
        <section class="panel">
            <h2>"Add an account"</h2>
            <PostForm endpoint=AddAccount::PATH then=After::ReloadAndSay class="inline-form" testid="add-account">
                <label>"Username" <input name="username" required minlength="3" maxlength="64"
                    pattern="[a-z0-9._\\-]{3,64}" title="3–64 characters: a-z 0-9 . _ -" data-testid="new-username"/></label>
                <label>"Display name" <input name="display_name" maxlength="100" data-testid="new-display-name"/></label>
                <label>"Role" <RoleSelect name="role" selected=Role::Viewer testid="new-role"/></label>
                <label>"Password" <input type="password" name="password" required minlength="12"
                    autocomplete="new-password" data-testid="new-password"/></label>
                <label>"Repeat password" <input type="password" name="confirm" required minlength="12"
                    autocomplete="new-password" data-testid="new-confirm"/></label>
                <button type="submit" class="button primary" data-testid="add">"Add account"</button>
            </PostForm>
            <p class="muted footnote">
                "Passwords have at least 12 characters. Roles: viewer (read-only), compliance (reports, audit-disposal approvals), "
                "dba (maintenance, cleanup requests), admin (everything, including accounts)."
            </p>
        </section>
    }
}

#[component]
fn RoleSelect(name: &'static str, selected: Role, testid: &'static str) -> impl IntoView {
    view! {
        <select name=name data-testid=testid>
            {Role::ALL.into_iter().map(|r| view! {
                <option value=r.name() selected=r == selected>{r.name()}</option>
            }).collect_view()}
        </select>
    }
}

fn instant(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".to_string())
}

#[component]
fn AccountTable(rows: Vec<AccountRow>) -> impl IntoView {
    view! {
        <table class="data" data-testid="accounts">
            <thead>
                <tr>
                    <th scope="col">"Username"</th>
                    <th scope="col">"Display name"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Last login"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|row| view! { <AccountLine row/> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn AccountLine(row: AccountRow) -> impl IntoView {
    let status = match (row.disabled, row.locked_until) {
        (true, _) => view! { <span class="badge crit">"disabled"</span> }.into_any(),
        (false, Some(until)) => view! {
            <span class="badge warn" title="too many failed logins">{format!("locked until {}", until.format("%H:%M UTC"))}</span>
        }.into_any(),
        (false, None) => view! { <span class="badge ok">"active"</span> }.into_any(),
    };
    // Island children are closures: each form gets its own copy of the name.
    let (for_role, for_toggle, for_reset) = (
        row.username.clone(),
        row.username.clone(),
        row.username.clone(),
    );
    let reset_label = format!("Set {}'s password", row.username);
    let (toggle_label, toggle_to) = if row.disabled {
        ("Enable", "false")
    } else {
        ("Disable", "true")
    };
    view! {
        <tr data-testid="account-row" data-username=row.username.clone() data-role=row.role.name()>
            <th scope="row"><code>{row.username.clone()}</code></th>
            <td>{row.display_name.clone()}</td>
            <td data-testid="status">{status}</td>
            <td>{instant(row.last_login_at)}</td>
            <td>
                <PostForm endpoint=SetAccountRole::PATH then=After::ReloadAndSay class="row-form" testid="set-role-form">
                    <input type="hidden" name="username" value=for_role.clone()/>
                    <RoleSelect name="role" selected=row.role testid="role-select"/>
                    <button type="submit" class="button small" data-testid="set-role">"Change role"</button>
                </PostForm>
            </td>
            <td class="actions">
                <PostForm endpoint=SetAccountDisabled::PATH then=After::ReloadAndSay class="row-form" testid="toggle-form">
                    <input type="hidden" name="username" value=for_toggle.clone()/>
                    <input type="hidden" name="disabled" value=toggle_to/>
                    <button type="submit" class="button small" data-testid="toggle-disabled">{toggle_label}</button>
                </PostForm>
                <details class="reset">
                    <summary>"Reset password"</summary>
                    <PostForm endpoint=ResetAccountPassword::PATH then=After::ReloadAndSay class="row-form" testid="reset-form">
                        <input type="hidden" name="username" value=for_reset.clone()/>
                        <input type="password" name="password" placeholder="new password" required minlength="12" autocomplete="new-password"/>
                        <input type="password" name="confirm" placeholder="repeat" required minlength="12" autocomplete="new-password"/>
                        <button type="submit" class="button small">{reset_label.clone()}</button>
                    </PostForm>
                </details>
            </td>
        </tr>
    }
}
