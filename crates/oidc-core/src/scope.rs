//! Scope strings (RFC 6749 §3.3): space-delimited, order kept, duplicates dropped.

/// Scopes that belong to OpenID Connect rather than to an API.
pub const OPENID_SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
];

/// Parses a `scope` parameter. `None` if a token has a character RFC 6749 forbids.
pub fn parse(scope: &str) -> Option<Vec<String>> {
    let mut scopes: Vec<String> = Vec::new();
    for token in scope.split(' ').filter(|token| !token.is_empty()) {
        let legal = token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if !legal {
            return None;
        }
        if !scopes.iter().any(|s| s == token) {
            scopes.push(token.to_owned());
        }
    }
    Some(scopes)
}

pub fn join(scopes: &[String]) -> String {
    scopes.join(" ")
}

pub fn contains(scopes: &[String], scope: &str) -> bool {
    scopes.iter().any(|s| s == scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dedupes_and_refuses_illegal_characters() {
        assert_eq!(parse("openid  email openid").unwrap(), ["openid", "email"]);
        assert_eq!(parse("").unwrap(), Vec::<String>::new());
        assert_eq!(parse("read\"x"), None);
        assert_eq!(parse("caf\u{e9}"), None);
    }
}
