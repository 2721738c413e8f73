//! Build with: `cargo build --release --target wasm32-unknown-unknown -p ip-allowlist`
//!
//! Refuses issuance to requests from outside the networks in the tenant configuration's
//! `ALLOWED_CIDRS` (comma-separated, IPv4 and IPv6, e.g. `10.0.0.0/8, 2001:db8::/32`).
//! It fails closed: no configuration, an unparsable entry or an unknown client IP all refuse.

use std::net::IpAddr;

use ipnet::IpNet;
use rules_sdk::{Api, Event, export_rule, log};

fn on_token(event: &Event, api: &mut Api) {
    let Some(cidrs) = event.configuration.get("ALLOWED_CIDRS") else {
        api.access().deny("IP allowlist is not configured.");
        return;
    };
    let networks: Result<Vec<IpNet>, _> =
        cidrs.split(',').map(|cidr| cidr.trim().parse()).collect();
    let Ok(networks) = networks else {
        log!("ALLOWED_CIDRS is not a list of CIDRs: {cidrs}");
        api.access().deny("IP allowlist is misconfigured.");
        return;
    };
    let ip = event
        .context
        .request
        .ip
        .as_deref()
        .and_then(|ip| ip.parse::<IpAddr>().ok());
    match ip {
        Some(ip) if networks.iter().any(|network| network.contains(&ip)) => {}
        Some(ip) => {
            log!("refused {ip}");
            api.access()
                .deny(format!("Access from {ip} is not allowed."));
        }
        None => api.access().deny("The client IP address is unknown."),
    }
}

export_rule!(on_token);

#[cfg(test)]
mod tests {
    use super::*;
    use rules_sdk::{Protocol, testing};

    fn from(ip: Option<&str>, cidrs: Option<&str>) -> Option<String> {
        let mut event = testing::event(Protocol::OAuth2Password);
        event.context.request.ip = ip.map(str::to_owned);
        if let Some(cidrs) = cidrs {
            event
                .configuration
                .insert("ALLOWED_CIDRS".into(), cidrs.into());
        }
        testing::run(on_token, &event)
            .outcome
            .deny
            .map(|deny| deny.description)
    }

    #[test]
    fn inside_the_allowlist_passes() {
        assert_eq!(from(Some("10.1.2.3"), Some("10.0.0.0/8")), None);
        assert_eq!(
            from(Some("2001:db8::1"), Some("192.0.2.0/24, 2001:db8::/32")),
            None
        );
    }

    #[test]
    fn outside_is_refused() {
        assert_eq!(
            from(Some("203.0.113.9"), Some("10.0.0.0/8")).as_deref(),
            Some("Access from 203.0.113.9 is not allowed.")
        );
    }

    #[test]
    fn it_fails_closed() {
        assert_eq!(
            from(Some("10.1.2.3"), None).as_deref(),
            Some("IP allowlist is not configured.")
        );
        assert_eq!(
            from(Some("10.1.2.3"), Some("10.0.0.0/33")).as_deref(),
            Some("IP allowlist is misconfigured.")
        );
        assert_eq!(
            from(None, Some("10.0.0.0/8")).as_deref(),
            Some("The client IP address is unknown.")
        );
        assert_eq!(
            from(Some("not-an-ip"), Some("10.0.0.0/8")).as_deref(),
            Some("The client IP address is unknown.")
        );
    }
}
