//! Where the dispatcher may connect: endpoint URLs checked when registered, addresses
//! checked when delivered to.
//!
//! A partner chooses the URL, so without a check a partner could make the platform's own
//! machines send requests into its private network (server-side request forgery). The
//! check is made on the *resolved* address, inside the resolver that the HTTP client
//! connects with, so a name that resolves to a public address when registered and to a
//! private one later (DNS rebinding) is still refused: the address checked is the
//! address connected to.

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The longest endpoint URL accepted: browsers and proxies commonly cap URLs near 2 KiB,
/// and a longer one is not an address anybody types.
pub const MAX_URL_LEN: usize = 2048;

/// Why an endpoint URL was refused when registered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// Not an absolute URL.
    Invalid,
    /// Longer than [`MAX_URL_LEN`].
    TooLong,
    /// Neither `http` nor `https`.
    Scheme,
    /// It carries a user name or password (they would be sent to the receiver, and
    /// would show in reports).
    Credentials,
    /// It names no host.
    NoHost,
    /// A fragment, which is never sent, so it cannot mean anything.
    Fragment,
    /// Its host is an address in a refused range (see [`AddressPolicy`]).
    Address,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::Invalid => "must be an absolute URL",
            UrlError::TooLong => "must be at most 2048 characters",
            UrlError::Scheme => "must use http or https",
            UrlError::Credentials => "must not carry a user name or password",
            UrlError::NoHost => "must name a host",
            UrlError::Fragment => "must not have a fragment",
            UrlError::Address => "must not be a private, loopback, link-local or metadata address",
        })
    }
}

impl StdError for UrlError {}

/// The addresses the dispatcher may connect to: any public address, and the private,
/// loopback, link-local, metadata and other special ranges only when an operator lists
/// them (`allow`).
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    allow: Vec<IpNet>,
}

impl AddressPolicy {
    /// Public addresses only. This is the default.
    pub fn new() -> Self {
        AddressPolicy::default()
    }

    /// Also allows the addresses of `net` (for instance `127.0.0.0/8` in tests, or a
    /// partner network reached over a private link). Default is none.
    #[must_use]
    pub fn allow(mut self, net: IpNet) -> Self {
        self.allow.push(net);
        self
    }

    /// Whether the dispatcher may connect to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        !is_special(ip) || self.allow.iter().any(|net| net.contains(&ip))
    }

    /// Checks an endpoint URL as a partner gives it: absolute `http` or `https`, at most
    /// [`MAX_URL_LEN`] characters, no credentials or fragment, a host, and when the host
    /// is an IP address, one this policy allows. A name is checked again each time it is
    /// resolved.
    pub fn check_url(&self, url: &str) -> Result<Url, UrlError> {
        if url.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        let parsed = Url::parse(url).map_err(|_| UrlError::Invalid)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(UrlError::Scheme);
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(UrlError::Credentials);
        }
        if parsed.fragment().is_some() {
            return Err(UrlError::Fragment);
        }
        match parsed.host() {
            None => return Err(UrlError::NoHost),
            Some(url::Host::Domain("")) => return Err(UrlError::NoHost),
            Some(url::Host::Ipv4(ip)) if !self.allows(IpAddr::V4(ip)) => {
                return Err(UrlError::Address);
            }
            Some(url::Host::Ipv6(ip)) if !self.allows(IpAddr::V6(ip)) => {
                return Err(UrlError::Address);
            }
            Some(_) => {}
        }
        Ok(parsed)
    }
}

/// An address the policy refused at delivery time.
#[derive(Debug, Clone)]
pub(crate) struct AddressRefused;

impl fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the endpoint resolves only to addresses that are not allowed")
    }
}

impl StdError for AddressRefused {}

/// The resolver the dispatcher's HTTP client connects with: the system's resolver, with
/// every address the policy refuses removed. A name left with none fails with
/// [`AddressRefused`].
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    pub(crate) policy: Arc<AddressPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| policy.allows(a.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(AddressRefused) as Box<dyn StdError + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Whether `ip` is in a range that is not the public internet: loopback, private
/// (RFC 1918, unique local), link-local (which holds the cloud metadata address
/// 169.254.169.254), shared (RFC 6598, where some clouds put metadata, 100.100.100.200),
/// unspecified, broadcast, multicast, documentation, benchmarking and reserved ranges,
/// and IPv6 forms that embed such an IPv4 address.
fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_special_v4(v4),
        IpAddr::V6(v6) => is_special_v6(v6),
    }
}

fn is_special_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), RFC 6598.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, RFC 6890.
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking, RFC 2544.
        || (a == 198 && (b == 18 || b == 19))
        // Reserved, and the rest of class E.
        || a >= 240
}

fn is_special_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_special_v4(v4);
    }
    let seg = ip.segments();
    let embedded = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local, fc00::/7 (AWS's metadata fd00:ec2::254 is in it).
        || (seg[0] & 0xfe00) == 0xfc00
        // Link-local fe80::/10 and the old site-local fec0::/10.
        || (seg[0] & 0xffc0) == 0xfe80
        || (seg[0] & 0xffc0) == 0xfec0
        // Documentation, 2001:db8::/32.
        || (seg[0] == 0x2001 && seg[1] == 0x0db8)
        // NAT64 (64:ff9b::/96) and IPv4-compatible (::/96) forms of a special IPv4.
        || (seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0; 4]
            && is_special_v4(embedded(seg[6], seg[7])))
        || (seg[..6] == [0; 6] && is_special_v4(embedded(seg[6], seg[7])))
        // 6to4 (2002::/16) around a special IPv4.
        || (seg[0] == 0x2002 && is_special_v4(embedded(seg[1], seg[2])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_ranges_are_refused_and_public_ones_allowed() {
        // Every range the dispatcher must not reach without an allow-list.
        let policy = AddressPolicy::new();
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
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
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
        ] {
            assert!(!policy.allows(refused.parse().unwrap()), "{refused}");
        }
        for allowed in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "64:ff9b::808:808",
        ] {
            assert!(policy.allows(allowed.parse().unwrap()), "{allowed}");
        }
        let loopback = policy.allow("127.0.0.0/8".parse().unwrap());
        assert!(loopback.allows("127.0.0.1".parse().unwrap()));
        assert!(!loopback.allows("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn urls_are_checked_when_registered() {
        // Scheme, length, credentials, fragment and address literals.
        let policy = AddressPolicy::new();
        assert!(policy.check_url("https://hooks.example.com/in").is_ok());
        assert_eq!(policy.check_url("hooks"), Err(UrlError::Invalid));
        assert_eq!(policy.check_url("ftp://x.example/"), Err(UrlError::Scheme));
        assert_eq!(
            policy.check_url("https://user:pw@x.example/"),
            Err(UrlError::Credentials)
        );
        assert_eq!(
            policy.check_url("https://x.example/#a"),
            Err(UrlError::Fragment)
        );
        let long = format!("https://x.example/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(policy.check_url(&long), Err(UrlError::TooLong));
        assert_eq!(
            policy.check_url("http://169.254.169.254/latest/meta-data"),
            Err(UrlError::Address)
        );
        assert_eq!(
            policy.check_url("http://[::1]:8080/"),
            Err(UrlError::Address)
        );
        assert_eq!(policy.check_url("http://10.0.0.7/"), Err(UrlError::Address));
    }
}
