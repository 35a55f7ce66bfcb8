//! [`ClientAddress`]: the address a request came from, through the proxies an operator
//! trusts.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, OptionalFromRequestParts};
use http::request::Parts;
use http::{Extensions, HeaderMap};
use ipnet::IpNet;

/// The address a request came from: the peer of its connection, or, when the peer is a
/// proxy the operator trusts ([`ContractLayer::trust_proxies`](crate::ContractLayer::trust_proxies)),
/// the first address in `Forwarded` (RFC 7239) or else `X-Forwarded-For` that is not a
/// trusted proxy, read from the nearest hop outwards. Anything a client writes in those
/// headers beyond the trusted hops is never believed.
///
/// Extract it as `Option<ClientAddress>` (none on a server started without connect
/// info); the rate-limit and failure-limit layers key by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    /// The client address of a request: the one the contract layer resolved, else its
    /// peer's.
    pub fn of(extensions: &Extensions) -> Option<IpAddr> {
        if let Some(ClientAddress(ip)) = extensions.get::<ClientAddress>() {
            return Some(*ip);
        }
        let ConnectInfo(peer) = extensions.get::<ConnectInfo<SocketAddr>>()?;
        Some(peer.ip())
    }

    /// The address behind trusted proxies, when the peer is one of `trusted` (see the
    /// type's documentation); `None` when it is not, or the headers name no address.
    pub(crate) fn behind(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
        let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
        if !is_trusted(&peer) {
            return None;
        }
        let hops = forwarded_hops(headers);
        // From the nearest hop outwards: the first that is not one of ours is the client.
        let mut last = None;
        for hop in hops.into_iter().rev() {
            let ip = hop?;
            if !is_trusted(&ip) {
                return Some(ip);
            }
            last = Some(ip);
        }
        last
    }
}

/// The addresses a request was forwarded for, farthest first: `Forwarded`'s `for=`
/// parameters if the header is there, else `X-Forwarded-For`'s. A hop that is not an
/// address (`unknown`, an obfuscated name, garbage) is `None`, which ends the walk: what
/// lies beyond it cannot be trusted.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all(http::header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| parse_node(value.trim().trim_matches('"')))
                })
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| parse_node(hop.trim()))
        .collect()
}

/// An address as the headers write it: `192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`, or
/// `[2001:db8::1]:80`.
fn parse_node(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    text.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(ClientAddress::of(&parts.extensions).map(ClientAddress))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn the_first_untrusted_hop_is_the_client() {
        // Scenario: only a trusted peer's headers are read; hops are walked from the
        // nearest outwards past trusted proxies; a client's own spoofed hops farther out
        // are never reached; `Forwarded` wins over `X-Forwarded-For`.
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let outsider: IpAddr = "203.0.113.9".parse().unwrap();
        let xff = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.0.0.5")]);
        assert_eq!(
            ClientAddress::behind(proxy, &xff, &trusted),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(ClientAddress::behind(outsider, &xff, &trusted), None);
        let forwarded = headers(&[
            (
                "forwarded",
                "for=192.0.2.60;proto=http, for=\"[2001:db8::1]:4711\"",
            ),
            ("x-forwarded-for", "1.1.1.1"),
        ]);
        assert_eq!(
            ClientAddress::behind(proxy, &forwarded, &trusted),
            Some("2001:db8::1".parse().unwrap())
        );
        let unknown = headers(&[("x-forwarded-for", "1.1.1.1, unknown")]);
        assert_eq!(ClientAddress::behind(proxy, &unknown, &trusted), None);
        let only_ours = headers(&[("x-forwarded-for", "10.0.0.9")]);
        assert_eq!(
            ClientAddress::behind(proxy, &only_ours, &trusted),
            Some("10.0.0.9".parse().unwrap())
        );
    }
}
