//! The app shell: who is signed in, the routes, and the navigation bar around every view.
//!
//! Every view has a real URL, so reload, deep links and back/forward work (the server answers
//! any non-API path with `index.html`). Views under the shell need a session; without one the
//! shell sends the browser to `/login?next=<where it was>`.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{A, Outlet, ParentRoute, Route, Router, Routes};
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::location::Location;
use leptos_router::{NavigateOptions, path};
use panoptes_types::Principal;

use crate::alerts::AlertsPage;
use crate::api;
use crate::components::{Empty, Loading, provide_now};
use crate::exceptions::{ServiceList, ServicePage};
use crate::issues::{IssueList, IssuePage};
use crate::login::Login;
use crate::monitors::{EditMonitor, MonitorList, MonitorPage, NewMonitor};
use crate::oncall::OnCallPage;
use crate::overview::Overview;
use crate::statuspages::StatusPagesPage;

#[derive(Clone, Debug, PartialEq)]
pub enum Session {
    /// `GET /me` has not answered yet.
    Checking,
    Anonymous,
    User(Principal),
}

/// The session, shared by the shell, the login screen and the API client's 401 hook.
pub fn use_session() -> RwSignal<Session> {
    expect_context::<RwSignal<Session>>()
}

#[component]
pub fn App() -> impl IntoView {
    let session = RwSignal::new(Session::Checking);
    provide_context(session);
    provide_now();
    crate::live::provide(session);
    api::on_unauthorized(move || {
        session.try_set(Session::Anonymous);
    });
    spawn_local(async move {
        // Any failure, not only 401, leads to the login form: a server we cannot reach says
        // so there when the form is used.
        let now = match api::me().await {
            Ok(p) => Session::User(p),
            Err(_) => Session::Anonymous,
        };
        session.set(now);
    });
    view! {
        <Router>
            <Routes fallback=|| view! { <NotFound /> }>
                <Route path=path!("/login") view=Login />
                <Route path=path!("/invite/:token") view=crate::invite::InvitePage />
                <ParentRoute path=path!("") view=Shell>
                    <Route path=path!("") view=Overview />
                    <Route path=path!("monitors") view=MonitorList />
                    <Route path=path!("monitors/new") view=NewMonitor />
                    <Route path=path!("monitors/:id") view=MonitorPage />
                    <Route path=path!("monitors/:id/edit") view=EditMonitor />
                    <Route path=path!("issues") view=IssueList />
                    <Route path=path!("issues/:id") view=IssuePage />
                    <Route path=path!("exceptions") view=ServiceList />
                    <Route path=path!("exceptions/:service") view=ServicePage />
                    <Route path=path!("alerts") view=AlertsPage />
                    <Route path=path!("oncall") view=OnCallPage />
                    <Route path=path!("statuspages") view=StatusPagesPage />
                    <Route path=path!("settings") view=crate::settings::SettingsPage />
                    <Route path=path!("*any") view=NotFound />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Where the browser is now, as a `next=` value for the login screen.
fn here(loc: &Location) -> String {
    let path = loc.pathname.get_untracked();
    let search = loc.search.get_untracked();
    if search.is_empty() {
        path
    } else {
        format!("{path}?{search}")
    }
}

/// The navigation bar and the current view, for a signed-in user.
#[component]
fn Shell() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let location = use_location();
    Effect::new(move || {
        if session.get() == Session::Anonymous {
            let next = api::segment(&here(&location));
            navigate(
                &format!("/login?next={next}"),
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });
    move || match session.get() {
        Session::User(principal) => view! {
            <Nav principal=principal />
            <main>
                <Outlet />
            </main>
        }
        .into_any(),
        Session::Checking | Session::Anonymous => view! {
            <main>
                <Loading what="session" />
            </main>
        }
        .into_any(),
    }
}

#[component]
fn Nav(principal: Principal) -> impl IntoView {
    let session = use_session();
    let sign_out = move |_| {
        spawn_local(async move {
            // Whatever the answer, this tab forgets the session; the cookie is HttpOnly.
            let _ = api::logout().await;
            session.set(Session::Anonymous);
        });
    };
    view! {
        <header class="top">
            <A href="/" exact=true {..} class="brand" id="nav-home">
                "Panoptes"
            </A>
            <nav>
                <A href="/" exact=true {..} id="nav-overview">
                    "Overview"
                </A>
                <A href="/monitors" {..} id="nav-monitors">
                    "Monitors"
                </A>
                <A href="/issues" {..} id="nav-issues">
                    "Issues"
                </A>
                <A href="/exceptions" {..} id="nav-exceptions">
                    "Exceptions"
                </A>
                <A href="/alerts" {..} id="nav-alerts">
                    "Alerts"
                </A>
                <A href="/oncall" {..} id="nav-oncall">
                    "On call"
                </A>
                <A href="/statuspages" {..} id="nav-statuspages">
                    "Status pages"
                </A>
                <A href="/settings" {..} id="nav-settings">
                    "Settings"
                </A>
            </nav>
            {crate::live::LiveDot()}
            <span class="who muted">
                "Signed in as " <b id="principal">{principal.name}</b>
            </span>
            <button id="logout" class="secondary" on:click=sign_out>
                "Sign out"
            </button>
        </header>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <section class="card" id="not-found">
            <h1>"Not found"</h1>
            <Empty>"Nothing lives at this address. " <A href="/">"Back to the overview"</A></Empty>
        </section>
    }
}
