//! A tenant and its token endpoint without HTTP: requests in, responses or errors out, on any
//! store, with a clock the test moves and entropy it can replay.

use std::collections::BTreeMap;

use crate::error::OAuthError;
use crate::grants::{ClientCredentials, TokenContext, TokenRequest, TokenResponse};
use crate::keys::{self, TenantKeys};
use crate::login::{Answer, AuthorizeError, Browser, LoginFailure, LoginForm, LoginPage, Step};
use crate::model::{ClientType, SigningAlg, Tenant, UnixMillis};
use crate::refresh::token::RefreshKeys;
use crate::rules::RequestInfo;
use crate::secret::{Entropy, Secret};
use crate::store::Store;
use crate::testkit::fixtures::{self, CLIENT_SECRET, PASSWORD, T0};
use crate::testkit::{MemoryStore, StubRules};
use crate::throttle::LoginThrottle;

/// A deterministic generator (SplitMix64): tests replay the same tokens.
#[derive(Debug, Clone)]
pub struct SeededEntropy(pub u64);

impl Entropy for SeededEntropy {
    fn fill(&mut self, buffer: &mut [u8]) {
        for chunk in buffer.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let bytes = z.to_le_bytes();
            chunk.copy_from_slice(bytes.get(..chunk.len()).unwrap_or(&bytes));
        }
    }
}

/// Tenant `acme` with the fixture API, alice (password [`PASSWORD`]) and clients `web`
/// (rotating, 10 s overlap), `strict` (rotating, no overlap), `legacy` (non-rotating), `spa`
/// (public) and `other` (a second confidential client).
#[derive(Debug)]
pub struct Harness<S: Store = MemoryStore> {
    pub store: S,
    pub rules: StubRules,
    pub keys: TenantKeys,
    pub refresh_keys: RefreshKeys,
    pub tenant: Tenant,
    pub throttle: LoginThrottle,
    pub now: UnixMillis,
    pub entropy: SeededEntropy,
    pub ip: String,
    /// The events the domain recorded.
    pub audit: crate::audit::Recorder,
}

impl Default for Harness<MemoryStore> {
    fn default() -> Self {
        Harness::with_store(MemoryStore::new())
    }
}

impl<S: Store> Harness<S> {
    pub fn with_store(store: S) -> Harness<S> {
        let tenant = fixtures::tenant("acme");
        store.put_tenant(&tenant).expect("tenant");
        store.put_api("acme", &fixtures::api()).expect("api");
        for (id, client_type, overlap) in [
            ("web", ClientType::Confidential, 10),
            ("strict", ClientType::Confidential, 0),
            ("legacy", ClientType::Confidential, 0),
            ("spa", ClientType::Spa, 0),
            ("other", ClientType::Confidential, 10),
        ] {
            let mut client = fixtures::client(id, client_type, overlap);
            client.refresh_token.rotating = id != "legacy";
            store.put_client("acme", &client).expect("client");
        }
        let mut alice = fixtures::user("auth0|alice", "alice@acme.test");
        alice.password_hash = Some(cheap_hash(PASSWORD));
        alice.roles = vec!["admin".into()];
        store.put_user("acme", &alice).expect("user");
        let material = keys::generate(SigningAlg::ES256, "k1".into(), T0).expect("a generated key");
        Harness {
            store,
            rules: StubRules::default(),
            keys: TenantKeys::new(&[material], SigningAlg::ES256).expect("keys"),
            refresh_keys: RefreshKeys::derive(&[42u8; 32]),
            tenant,
            throttle: LoginThrottle::default(),
            now: T0,
            entropy: SeededEntropy(1),
            ip: "203.0.113.7".into(),
            audit: crate::audit::Recorder::default(),
        }
    }

    fn context(&self) -> TokenContext<'_> {
        TokenContext {
            store: &self.store,
            rules: &self.rules,
            keys: &self.keys,
            refresh_keys: &self.refresh_keys,
            tenant: &self.tenant,
            userinfo_url: "https://acme.fixture.test/userinfo",
            throttle: &self.throttle,
            audit: &self.audit,
            now: self.now,
        }
    }

    /// A token request from `client` (its secret in the body, if it has one).
    pub fn token(
        &mut self,
        client: &str,
        params: &[(&str, &str)],
    ) -> Result<TokenResponse, OAuthError> {
        let request = TokenRequest {
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            credentials: credentials(client),
            info: RequestInfo {
                ip: Some(self.ip.clone()),
                ..RequestInfo::default()
            },
        };
        let mut entropy = self.entropy.clone();
        let result = crate::exchange(&self.context(), &request, &mut entropy);
        self.entropy = entropy;
        result.map(|issued| issued.response)
    }

    /// Alice's password grant with `client` and `scope`, at the fixture API.
    pub fn login(&mut self, client: &str, scope: &str) -> Result<TokenResponse, OAuthError> {
        self.token(
            client,
            &[
                ("grant_type", "password"),
                ("username", "alice@acme.test"),
                ("password", PASSWORD),
                ("audience", fixtures::API),
                ("scope", scope),
            ],
        )
    }

    /// A refresh exchange of `token` by `client`.
    pub fn refresh(&mut self, client: &str, token: &str) -> Result<TokenResponse, OAuthError> {
        self.token(
            client,
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
        )
    }

    /// `/oauth/revoke` of `token` by `client`.
    pub fn revoke(&mut self, client: &str, token: &str) -> Result<(), OAuthError> {
        crate::revoke(&self.context(), &credentials(client), token)
    }

    /// `/authorize` from `browser` with `params`.
    pub fn authorize(
        &mut self,
        browser: &mut TestBrowser,
        params: &[(&str, &str)],
    ) -> Result<Answer, AuthorizeError> {
        let params = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let info = self.request_info();
        let mut entropy = self.entropy.clone();
        let answer =
            crate::login::authorize(&self.context(), &params, browser.view(&info), &mut entropy);
        self.entropy = entropy;
        browser.keep(answer)
    }

    /// The hosted page of `transaction`, as `browser` sees it.
    pub fn login_page(
        &self,
        browser: &TestBrowser,
        transaction: &str,
    ) -> Result<LoginPage, OAuthError> {
        crate::login::login_page(&self.context(), transaction, &browser.id)
    }

    /// Submits the login form of `transaction` with `csrf`, as `username`/`password`.
    pub fn submit_login(
        &mut self,
        browser: &mut TestBrowser,
        transaction: &str,
        csrf: Option<&str>,
        (username, password): (&str, &str),
    ) -> Result<Answer, LoginFailure> {
        let form = LoginForm {
            transaction: transaction.to_owned(),
            csrf: csrf.map(str::to_owned),
            username: username.to_owned(),
            password: Secret::new(password),
            body: BTreeMap::new(),
        };
        let info = self.request_info();
        let verified = crate::login::verify_login(&self.context(), &form, browser.view(&info))?;
        let mut entropy = self.entropy.clone();
        let answer = crate::login::finish_login(
            &self.context(),
            verified,
            browser.view(&info),
            &mut entropy,
        );
        self.entropy = entropy;
        browser.keep(answer).map_err(|error| match error {
            AuthorizeError::Page(error) => LoginFailure::Page(error),
            AuthorizeError::Client(redirect) => LoginFailure::Page(OAuthError::invalid_request(
                format!("unexpected client error {redirect:?}"),
            )),
        })
    }

    /// Alice logs in on the hosted page of the transaction `answer` started.
    pub fn login_as_alice(
        &mut self,
        browser: &mut TestBrowser,
        answer: &Answer,
    ) -> Result<Answer, LoginFailure> {
        let Step::Login { transaction } = &answer.step else {
            return Err(LoginFailure::Page(OAuthError::invalid_request(format!(
                "expected the login page, got {answer:?}"
            ))));
        };
        let page = self
            .login_page(browser, transaction)
            .map_err(LoginFailure::Page)?;
        self.submit_login(
            browser,
            transaction,
            Some(&page.csrf),
            ("alice@acme.test", PASSWORD),
        )
    }

    /// `/continue?state=…` from `browser`.
    pub fn resume(
        &mut self,
        browser: &mut TestBrowser,
        state: &str,
    ) -> Result<Answer, AuthorizeError> {
        let info = self.request_info();
        let mut entropy = self.entropy.clone();
        let answer = crate::login::resume(
            &self.context(),
            state,
            &BTreeMap::new(),
            browser.view(&info),
            &mut entropy,
        );
        self.entropy = entropy;
        browser.keep(answer)
    }

    /// `/v2/logout` (or, `oidc`, `/oidc/logout`) from `browser`.
    pub fn logout(
        &mut self,
        browser: &TestBrowser,
        params: &[(&str, &str)],
        oidc: bool,
    ) -> Result<crate::login::Logout, OAuthError> {
        let params = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let cookie = browser.session.as_deref();
        if oidc {
            crate::login::oidc_logout(&self.context(), &params, cookie)
        } else {
            crate::login::logout(&self.context(), &params, cookie)
        }
    }

    /// `POST /oauth/device/code` by `client`.
    pub fn device_start(
        &mut self,
        client: &str,
        params: &[(&str, &str)],
    ) -> Result<crate::login::device::DeviceAuthorization, OAuthError> {
        let request = TokenRequest {
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            credentials: credentials(client),
            info: self.request_info(),
        };
        let mut entropy = self.entropy.clone();
        let started = crate::login::device::start(
            &self.context(),
            &request,
            "https://acme.fixture.test/activate",
            &mut entropy,
        );
        self.entropy = entropy;
        started
    }

    /// `POST /activate` from `browser`: a user code and, with a session, the decision.
    pub fn activate(
        &mut self,
        browser: &mut TestBrowser,
        user_code: &str,
        decision: Option<bool>,
    ) -> Result<Answer, AuthorizeError> {
        let csrf = crate::login::activation_csrf(&browser.id);
        self.activate_with(browser, (user_code, Some(&csrf)), decision)
    }

    /// `POST /activate` with the form's CSRF field as given.
    pub fn activate_with(
        &mut self,
        browser: &mut TestBrowser,
        (user_code, csrf): (&str, Option<&str>),
        decision: Option<bool>,
    ) -> Result<Answer, AuthorizeError> {
        let info = self.request_info();
        let mut entropy = self.entropy.clone();
        let answer = crate::login::activate(
            &self.context(),
            (user_code, csrf, decision),
            browser.view(&info),
            &mut entropy,
        );
        self.entropy = entropy;
        browser.keep(answer)
    }

    fn request_info(&self) -> RequestInfo {
        RequestInfo {
            ip: Some(self.ip.clone()),
            ..RequestInfo::default()
        }
    }

    /// A user as stored now.
    pub fn store_user(&self, user_id: &str) -> crate::User {
        self.store
            .user(&self.tenant.id, user_id)
            .expect("the store answers")
            .expect("the user exists")
    }

    pub fn advance_secs(&mut self, secs: u64) {
        self.now += secs * 1000;
    }
}

/// A browser: its id cookie and the session cookie the server last set.
#[derive(Debug, Clone)]
pub struct TestBrowser {
    pub id: Secret,
    pub session: Option<String>,
}

impl TestBrowser {
    pub fn new(name: &str) -> TestBrowser {
        TestBrowser {
            id: Secret::new(format!("browser-{name}-0123456789abcdef0123456789")),
            session: None,
        }
    }

    fn view<'a>(&'a self, info: &'a RequestInfo) -> Browser<'a> {
        Browser {
            id: &self.id,
            session: self.session.as_deref(),
            info,
        }
    }

    fn keep<E>(&mut self, answer: Result<Answer, E>) -> Result<Answer, E> {
        if let Ok(Answer {
            session_cookie: Some(cookie),
            ..
        }) = &answer
        {
            self.session = Some(cookie.expose().to_owned());
        }
        answer
    }
}

fn credentials(client: &str) -> ClientCredentials {
    ClientCredentials::Post {
        client_id: client.to_owned(),
        secret: (client != "spa").then(|| Secret::new(CLIENT_SECRET)),
    }
}

/// An Argon2id hash with the smallest parameters: the grant verifies it as it would any
/// other, in microseconds.
fn cheap_hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(8, 1, 1, None).expect("valid parameters");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(
            password.as_bytes(),
            &SaltString::encode_b64(b"fixture salt").expect("salt"),
        )
        .expect("hash")
        .to_string()
}
