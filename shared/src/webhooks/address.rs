//! Where webhooks may go. Endpoint URLs must be `https` and every address their host resolves
//! to must be public: no private, loopback, link-local (cloud metadata), shared, multicast or
//! reserved ranges. Checked when an endpoint is configured and again at every delivery, on the
//! very addresses the connection then uses, so a host that re-binds its DNS to an internal
//! address afterwards gets nothing.
//!
//! The local-dev switch (off unless the stack sets it) lets `http://127.0.0.1:…` through, and
//! only that host, so a developer can receive webhooks on their own machine.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::Url;

/// What the address rules allow beyond the public internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddressPolicy {
    /// The local-dev switch: `127.0.0.1` over http or https.
    pub allow_local: bool,
}

/// How long a host name may take to resolve.
const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The host a local-dev endpoint may name.
const LOCAL_HOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Why a URL or an address is refused; the text is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not a URL at all.
    #[error("is not a valid URL")]
    Malformed,
    /// Not https (or http to 127.0.0.1 in local-dev mode).
    #[error("must use https")]
    Scheme,
    /// User name or password in the URL.
    #[error("must not carry credentials")]
    Credentials,
    /// The host does not resolve.
    #[error("host {0} does not resolve")]
    Unresolvable(String),
    /// The host is or resolves to an address webhooks must not reach. The address is not said:
    /// what a name resolves to inside the network is not the caller's to learn.
    #[error("is or resolves to a private, loopback, link-local or reserved address")]
    Internal,
}

impl AddressPolicy {
    /// Checks what the URL itself says — scheme, no credentials, a host, and the address when
    /// the host is one — without resolving anything. Returns it parsed.
    pub fn check_url(&self, text: &str) -> Result<Url, Refused> {
        let url = Url::parse(text).map_err(|_| Refused::Malformed)?;
        let local = self.allow_local && url.host_str() == Some(&LOCAL_HOST.to_string());
        match url.scheme() {
            "https" => {}
            "http" if local => {}
            _ => return Err(Refused::Scheme),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused::Credentials);
        }
        let literal = match url.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => None,
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => return Err(Refused::Malformed),
        };
        match literal {
            Some(ip) if !self.allows(ip) => Err(Refused::Internal),
            _ => Ok(url),
        }
    }

    /// Whether a delivery may connect to this address.
    fn allows(&self, ip: IpAddr) -> bool {
        is_public(ip) || (self.allow_local && ip == IpAddr::V4(LOCAL_HOST))
    }

    /// Resolves a host name; fails unless every address is public (names never get the local-dev
    /// exception: `localhost` is refused even then).
    pub async fn lookup(&self, name: &str, port: u16) -> Result<Vec<SocketAddr>, Refused> {
        let unresolvable = || Refused::Unresolvable(name.to_owned());
        let found: Vec<SocketAddr> = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((name, port)))
            .await
            .map_err(|_| unresolvable())?
            .map_err(|_| unresolvable())?
            .collect();
        if found.is_empty() {
            return Err(unresolvable());
        }
        match found.iter().find(|a| !is_public(a.ip())) {
            Some(_) => Err(Refused::Internal),
            None => Ok(found),
        }
    }

    /// The full configuration-time check: what the URL says, then every address its host name
    /// resolves to.
    pub async fn check(&self, text: &str) -> Result<Url, Refused> {
        let url = self.check_url(text)?;
        if let Some(url::Host::Domain(name)) = url.host() {
            self.lookup(name, 0).await?;
        }
        Ok(url)
    }
}

/// Whether an address is on the public internet.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT, some metadata services)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    // Transition ranges that carry an IPv4 address a relay or translator would reach: 6to4
    // (2002::/16), Teredo (2001::/32) and local-use NAT64 (64:ff9b:1::/48) are refused whole.
    if segments[0] == 0x2002 || segments[..2] == [0x2001, 0] || segments[..3] == [0x64, 0xff9b, 1] {
        return false;
    }
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [_, _, _, _, _, _, hi, lo] = segments;
        return is_public_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unique_local() // includes fd00:ec2::254, the metadata service
        || ip.is_unicast_link_local()
        || segments[0] == 0x2001 && segments[1] == 0x0db8 // documentation
        || ip.to_ipv4().is_some()) // IPv4-compatible (deprecated)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: AddressPolicy = AddressPolicy { allow_local: false };
    const LOCAL: AddressPolicy = AddressPolicy { allow_local: true };

    #[test]
    fn internal_addresses_are_not_public() {
        for internal in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "64:ff9b:1::a9fe:a9fe",
        ] {
            assert!(!is_public(internal.parse().unwrap()), "{internal}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn only_public_https_urls_pass_outside_local_dev() {
        for (url, refused) in [
            ("https://10.0.0.1/hook", Refused::Internal),
            ("https://169.254.169.254/latest", Refused::Internal),
            ("https://[::1]/hook", Refused::Internal),
            ("https://[2002:a9fe:a9fe::1]/hook", Refused::Internal),
            ("http://93.184.216.34/hook", Refused::Scheme),
            ("http://127.0.0.1:9000/hook", Refused::Scheme),
            ("ftp://93.184.216.34/hook", Refused::Scheme),
            ("https://user:pw@93.184.216.34/", Refused::Credentials),
            ("not a url", Refused::Malformed),
        ] {
            assert_eq!(STRICT.check(url).await, Err(refused), "{url}");
        }
        assert!(matches!(STRICT.check("https://localhost/hook").await, Err(Refused::Internal)));
        assert!(STRICT.check("https://93.184.216.34/hook").await.is_ok());
    }

    #[tokio::test]
    async fn local_dev_lets_127_0_0_1_through_and_nothing_more() {
        assert!(LOCAL.check("http://127.0.0.1:9000/hook").await.is_ok());
        assert!(LOCAL.check("https://127.0.0.1/hook").await.is_ok());
        assert!(matches!(LOCAL.check("https://localhost/hook").await, Err(Refused::Internal)));
        assert!(matches!(LOCAL.check("http://localhost:9000/hook").await, Err(Refused::Scheme)));
        assert!(matches!(LOCAL.check("https://10.0.0.1/hook").await, Err(Refused::Internal)));
        assert!(!LOCAL.allows("127.0.0.2".parse().unwrap()));
    }
}
