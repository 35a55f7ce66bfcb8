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

/// Whether `ip` is in a range that is not the public internet: every block of IANA's
/// IPv4 and IPv6 special-purpose address registries that is not globally reachable
/// ([`SPECIAL_V4`], [`SPECIAL_V6`]), multicast, and the IPv6 forms that embed a special
/// IPv4 address (IPv4-mapped, NAT64).
fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_special_v4(v4),
        IpAddr::V6(v6) => is_special_v6(v6),
    }
}

/// IANA's IPv4 special-purpose registry, the blocks not globally reachable (or whose
/// reachability is "N/A", as for deprecated relays), plus multicast. 192.0.0.0/24 is
/// refused whole, though two anycast addresses in it (PCP, TURN) are global: no webhook
/// receiver lives there.
pub(crate) const SPECIAL_V4: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "this network (RFC 791)"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private use (RFC 1918)"),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        "shared address space (RFC 6598)",
    ),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback (RFC 1122)"),
    (
        Ipv4Addr::new(169, 254, 0, 0),
        16,
        "link local, cloud metadata (RFC 3927)",
    ),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private use (RFC 1918)"),
    (
        Ipv4Addr::new(192, 0, 0, 0),
        24,
        "IETF protocol assignments (RFC 6890)",
    ),
    (
        Ipv4Addr::new(192, 0, 2, 0),
        24,
        "documentation TEST-NET-1 (RFC 5737)",
    ),
    (
        Ipv4Addr::new(192, 88, 99, 0),
        24,
        "deprecated 6to4 relay anycast (RFC 7526)",
    ),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private use (RFC 1918)"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking (RFC 2544)"),
    (
        Ipv4Addr::new(198, 51, 100, 0),
        24,
        "documentation TEST-NET-2 (RFC 5737)",
    ),
    (
        Ipv4Addr::new(203, 0, 113, 0),
        24,
        "documentation TEST-NET-3 (RFC 5737)",
    ),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast (RFC 5771)"),
    (
        Ipv4Addr::new(240, 0, 0, 0),
        4,
        "reserved, and limited broadcast (RFC 1112, RFC 919)",
    ),
];

/// IANA's IPv6 special-purpose registry, the blocks not globally reachable (or "N/A"),
/// plus multicast. IPv4-mapped and NAT64 addresses are judged by the IPv4 address they
/// embed instead; the deprecated IPv4-compatible block is refused whole. In
/// 2001::/23 (IETF protocol assignments), the blocks IANA lists as globally reachable
/// are kept: [`GLOBAL_IN_SPECIAL_V6`].
pub(crate) const SPECIAL_V6: &[(Ipv6Addr, u8, &str)] = &[
    (
        Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0),
        96,
        "unspecified, loopback and deprecated IPv4-compatible (RFC 4291)",
    ),
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        "local-use IPv4/IPv6 translation (RFC 8215)",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        "discard-only (RFC 6666)",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 1, 0, 0, 0, 0),
        64,
        "dummy prefix (RFC 9780)",
    ),
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        "IETF protocol assignments, Teredo, benchmarking, ORCHID (RFC 2928)",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "documentation (RFC 3849)",
    ),
    (
        Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0),
        16,
        "6to4, deprecated (RFC 3056, RFC 7526)",
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        "documentation (RFC 9637)",
    ),
    (
        Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0),
        16,
        "segment routing SIDs (RFC 9602)",
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        "unique local, AWS metadata fd00:ec2::254 (RFC 4193)",
    ),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        "link local (RFC 4291)",
    ),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        "site local, deprecated (RFC 3879)",
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        "multicast (RFC 4291)",
    ),
];

/// The globally reachable blocks inside 2001::/23 in IANA's registry: anycast for PCP,
/// TURN and DNS-SD SRP, AMT, AS112 and ORCHIDv2.
pub(crate) const GLOBAL_IN_SPECIAL_V6: &[(Ipv6Addr, u8)] = &[
    (Ipv6Addr::new(0x2001, 1, 0, 0, 0, 0, 0, 1), 128),
    (Ipv6Addr::new(0x2001, 1, 0, 0, 0, 0, 0, 2), 128),
    (Ipv6Addr::new(0x2001, 1, 0, 0, 0, 0, 0, 3), 128),
    (Ipv6Addr::new(0x2001, 3, 0, 0, 0, 0, 0, 0), 32),
    (Ipv6Addr::new(0x2001, 4, 0x112, 0, 0, 0, 0, 0), 48),
    (Ipv6Addr::new(0x2001, 0x20, 0, 0, 0, 0, 0, 0), 28),
];

fn in_v4(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let shift = 32 - u32::from(len);
    u32::from(ip).checked_shr(shift).unwrap_or(0) == u32::from(net).checked_shr(shift).unwrap_or(0)
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let shift = 128 - u32::from(len);
    u128::from(ip).checked_shr(shift).unwrap_or(0)
        == u128::from(net).checked_shr(shift).unwrap_or(0)
}

fn is_special_v4(ip: Ipv4Addr) -> bool {
    SPECIAL_V4.iter().any(|&(net, len, _)| in_v4(ip, net, len))
}

fn is_special_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_special_v4(v4);
    }
    let seg = ip.segments();
    // NAT64's well-known prefix (64:ff9b::/96) reaches the IPv4 address it embeds.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = seg[6].to_be_bytes();
        let [c, d] = seg[7].to_be_bytes();
        return is_special_v4(Ipv4Addr::new(a, b, c, d));
    }
    SPECIAL_V6.iter().any(|&(net, len, _)| in_v6(ip, net, len))
        && !GLOBAL_IN_SPECIAL_V6
            .iter()
            .any(|&(net, len)| in_v6(ip, net, len))
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
    fn every_special_purpose_block_is_refused_at_both_ends() {
        // Scenario: for each block of the tables, its first and last address are refused
        // (and their IPv4-mapped and NAT64 forms, for IPv4), and the addresses just
        // outside it are judged on their own.
        let policy = AddressPolicy::new();
        for &(net, len, what) in SPECIAL_V4 {
            let first = u32::from(net);
            let last = first | (u32::MAX.checked_shr(u32::from(len)).unwrap_or(0));
            for ip in [first, last].map(Ipv4Addr::from) {
                assert!(!policy.allows(IpAddr::V4(ip)), "{ip} ({what})");
                assert!(
                    !policy.allows(IpAddr::V6(ip.to_ipv6_mapped())),
                    "{ip} mapped"
                );
                let [a, b, c, d] = ip.octets();
                let nat64 = Ipv6Addr::new(
                    0x64,
                    0xff9b,
                    0,
                    0,
                    0,
                    0,
                    u16::from_be_bytes([a, b]),
                    u16::from_be_bytes([c, d]),
                );
                assert!(!policy.allows(IpAddr::V6(nat64)), "{nat64} ({what})");
            }
        }
        for &(net, len, what) in SPECIAL_V6 {
            let first = u128::from(net);
            let last = first | (u128::MAX.checked_shr(u32::from(len)).unwrap_or(0));
            for ip in [first, last].map(Ipv6Addr::from) {
                let global = GLOBAL_IN_SPECIAL_V6.iter().any(|&(n, l)| in_v6(ip, n, l));
                assert_eq!(policy.allows(IpAddr::V6(ip)), global, "{ip} ({what})");
            }
        }
        for named in [
            "64:ff9b:1::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "192.88.99.1",
            "100::1",
            "3fff::1",
            "5f00::1",
            "192.0.0.170",
        ] {
            assert!(!policy.allows(named.parse().unwrap()), "{named}");
        }
        for global in [
            "2001:3::1",
            "2001:4:112::1",
            "2001:1::1",
            "2001:200::1",
            "192.31.196.1",
            "192.88.100.1",
            "2003::1",
            "2a00:1450::1",
            "64:ff9b::808:808",
            "::ffff:8.8.8.8",
        ] {
            assert!(policy.allows(global.parse().unwrap()), "{global}");
        }
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
