//! The interactive flows: `/authorize` with the hosted login and the SSO session, rule
//! redirects and `/continue`, authorization codes. Like the rest of the domain, no IO but
//! the store: the server reads cookies and forms, renders pages and sets cookies.
//!
//! Every record here is a flow record ([`crate::store::FlowKind`]): short-lived, keyed by the
//! digest of the secret that stands for it, written by compare-and-swap so that each
//! single-use thing (a code, a form, a redirect's state) is used once.

pub mod authorize;
pub mod code;
pub mod device;
mod flow;
pub mod logout;
pub mod records;
pub mod session;
pub mod transaction;

pub use authorize::{AuthorizeError, AuthorizeRequest, ClientRedirect, ResponseMode, ResponseType};
pub use flow::{
    Answer, Browser, LoginFailure, LoginForm, LoginPage, Step, VerifiedForm, activate,
    activation_csrf, authorize, finish_login, login_page, resume, verify_login,
};
pub use logout::{Logout, logout, oidc_logout};
