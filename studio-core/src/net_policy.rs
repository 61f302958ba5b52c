//! Which network destinations the system may reach on a creator's say-so (callback URLs, direct media
//! URLs): HTTPS to public addresses only — the SSRF rule, written once here; the worker's outbound client
//! (`cpu-worker/src/outbound.rs`) applies it to every resolved address and every redirect hop.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error_code::{ErrorCode, Problem};

/// Whether `ip` is a public unicast address: not private, loopback, link-local, CGNAT, multicast,
/// broadcast, unspecified, reserved, documentation or benchmarking space — and, for IPv6 forms that
/// carry an IPv4 address (mapped, compatible, NAT64, 6to4), not carrying a non-public one.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let blocked = a == 0                                   // "this network", unspecified
        || a == 10                                         // private
        || a == 127                                        // loopback
        || (a == 100 && (64..=127).contains(&b))           // CGNAT (100.64.0.0/10)
        || (a == 169 && b == 254)                          // link-local
        || (a == 172 && (16..=31).contains(&b))            // private
        || (a == 192 && b == 0 && c == 0)                  // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)                  // documentation
        || (a == 192 && b == 88 && c == 99)                // 6to4 relay anycast
        || (a == 192 && b == 168)                          // private
        || (a == 198 && (18..=19).contains(&b))            // benchmarking
        || (a == 198 && b == 51 && c == 100)               // documentation
        || (a == 203 && b == 0 && c == 113)                // documentation
        || a >= 224; // multicast (224/4), reserved (240/4), broadcast
    !blocked
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let blocked = ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xff00) == 0xff00          // multicast
        || (s[0] & 0xffc0) == 0xfe80          // link-local
        || (s[0] & 0xffc0) == 0xfec0          // site-local (deprecated)
        || (s[0] & 0xfe00) == 0xfc00          // unique local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0)      // Teredo (tunnels to an arbitrary IPv4 address)
        || (s[0] == 0x2001 && s[1] == 2 && s[2] == 0) // benchmarking (2001:2::/48)
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001) // local-use NAT64 (RFC 8215)
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only
        || s[0] == 0; // the rest of ::/16 (reserved) once the embedded forms are handled
    !blocked
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(from(hi, lo)),
        [0, 0, 0, 0, 0, 0, hi, lo] if (hi, lo) != (0, 0) && (hi, lo) != (0, 1) => Some(from(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(from(hi, lo)),
        [0x2002, hi, lo, ..] => Some(from(hi, lo)),
        _ => None,
    }
}

/// Hosts a test environment may reach despite the rule (`host:port`, from `CALLBACK_ALLOW_HOSTS`). Never
/// for production: it exists so tests can use a local receiver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<(String, u16)>);

impl AllowList {
    /// Parses `host:port,host:port`; `None` names the first entry that is not one.
    pub fn parse(text: &str) -> Result<AllowList, String> {
        let mut entries = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (host, port) = entry.rsplit_once(':').ok_or_else(|| entry.to_owned())?;
            let port = port.parse::<u16>().map_err(|_| entry.to_owned())?;
            if host.is_empty() {
                return Err(entry.to_owned());
            }
            entries.push((host.trim_matches(['[', ']']).to_ascii_lowercase(), port));
        }
        Ok(AllowList(entries))
    }

    pub fn allows(&self, host: &str, port: u16) -> bool {
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        self.0.iter().any(|(h, p)| *h == host && *p == port)
    }
}

/// The longest creator URL accepted (callbacks, media sources).
pub const MAX_URL_LEN: usize = 2048;

/// Why a creator's URL is refused before anything is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Not a usable absolute URL.
    Malformed(&'static str),
    /// A well-formed URL that breaks a rule of where we may go.
    Forbidden(&'static str),
}

/// The check of a creator's URL that needs no DNS: `https://` (plain `http://` only for an allow-listed
/// `host:port`), no credentials, and a host that is a name or a public IP address. The URL is read by
/// the same WHATWG parser the worker uses, so every notation of an address (decimal, octal, hex, short
/// forms, percent-encoded or full-width digits, trailing dots) is judged as the address it is. Names
/// are resolved, and every address checked, when the URL is used.
fn refusal(raw: &str, allow: &AllowList) -> Option<Refusal> {
    use Refusal::{Forbidden, Malformed};
    if raw.len() > MAX_URL_LEN || raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Some(Malformed("must be a URL of at most 2048 characters without spaces"));
    }
    let Ok(url) = url::Url::parse(raw) else { return Some(Malformed("must be an absolute https:// URL")) };
    if url.scheme() != "https" && url.scheme() != "http" {
        return Some(Forbidden("must use https://"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some(Forbidden("must not carry credentials"));
    }
    let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
        return Some(Malformed("must name a host"));
    };
    if allow.allows(&host.to_string(), port) {
        return None;
    }
    if url.scheme() != "https" {
        return Some(Forbidden("must use https://"));
    }
    let public_address =
        "must reach a public address (not loopback, private, link-local, CGNAT, multicast, reserved or mapped)";
    match host {
        url::Host::Ipv4(ip) if !is_public(IpAddr::V4(ip)) => Some(Forbidden(public_address)),
        url::Host::Ipv6(ip) if !is_public(IpAddr::V6(ip)) => Some(Forbidden(public_address)),
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => None,
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.');
            let local = name == "localhost"
                || [".localhost", ".local", ".internal", ".home.arpa", ".lan"].iter().any(|s| name.ends_with(s))
                || !name.contains('.');
            local.then_some(Forbidden("must name a public host (not localhost or a local name)"))
        }
    }
}

/// Whether `raw` names an allow-listed `host:port` (tests only).
pub fn allow_listed(raw: &str, allow: &AllowList) -> bool {
    let Ok(url) = url::Url::parse(raw) else { return false };
    url.username().is_empty()
        && matches!((url.host(), url.port_or_known_default()), (Some(h), Some(p)) if allow.allows(&h.to_string(), p))
}

/// A creator's `callbackUrl`, checked when a job is created; a refusal names the field.
pub fn check_callback_url(raw: &str, allow: &AllowList) -> Result<String, Problem> {
    match refusal(raw, allow) {
        None => Ok(raw.to_owned()),
        Some(Refusal::Malformed(why) | Refusal::Forbidden(why)) => {
            Err(Problem::new(ErrorCode::InvalidRequest, format!("callbackUrl: {why}")))
        }
    }
}

/// A media URL to ingest (`source.url`), checked at the edge: a malformed one is 400 `invalid_request`,
/// one that breaks a rule 400 `url_forbidden`, each naming the rule.
pub fn check_source_url(raw: &str, allow: &AllowList) -> Result<String, Problem> {
    match refusal(raw, allow) {
        None => Ok(raw.to_owned()),
        Some(Refusal::Malformed(why)) => Err(Problem::new(ErrorCode::InvalidRequest, format!("source.url: {why}"))),
        Some(Refusal::Forbidden(why)) => Err(Problem::new(ErrorCode::UrlForbidden, format!("source.url: {why}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_pass() {
        let refused = [
            "0.0.0.0",
            "10.1.2.3",
            "127.0.0.1",
            "127.255.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.1.1.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::a00:1",
            "2002:7f00:1::",
            "2001:0:4136::1",
            "fec0::1",
            "2001:2::1",
        ];
        for ip in refused {
            assert!(!is_public(ip.parse().unwrap()), "{ip} must be refused");
        }
        let allowed =
            ["1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.1", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"];
        for ip in allowed {
            assert!(is_public(ip.parse().unwrap()), "{ip} must pass");
        }
    }

    #[test]
    fn callback_urls_must_be_https_to_public_hosts() {
        let none = AllowList::default();
        for ok in ["https://hooks.example.com/n8n/abc?x=1", "https://8.8.8.8:8443/cb", "https://[2606:4700::1111]/x"] {
            assert_eq!(check_callback_url(ok, &none).as_deref(), Ok(ok));
        }
        for bad in [
            "http://hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "hooks.example.com/x",
            "https://user:pw@hooks.example.com/x",
            "https://127.0.0.1:9000/cb",
            "https://localhost/cb",
            "https://printer.local/cb",
            "https://169.254.169.254/latest",
            "https://[::1]/x",
            "https://[::ffff:10.0.0.1]/x",
            "https://2130706433/x",
            "https://intranet/x",
            "https://ok.example.com/a b",
            "https:///x",
        ] {
            let err = check_callback_url(bad, &none).unwrap_err();
            assert!(err.message.starts_with("callbackUrl"), "{bad}: {}", err.message);
        }
        let tests = AllowList::parse("127.0.0.1:9000").unwrap();
        assert!(check_callback_url("http://127.0.0.1:9000/cb", &tests).is_ok());
        assert!(check_callback_url("http://127.0.0.1:9001/cb", &tests).is_err(), "only the listed port");
    }

    #[test]
    fn hostile_source_urls_are_refused_in_every_notation() {
        let none = AllowList::default();
        let forbidden = [
            // Schemes and credentials.
            "http://example.com/a.mp3",
            "ftp://example.com/a.mp3",
            "file:///etc/passwd",
            "gopher://example.com/",
            "https://user:pw@example.com/a.mp3",
            "https://user@example.com/a.mp3",
            // Loopback, in every notation a URL parser accepts.
            "https://127.0.0.1/a.mp3",
            "https://127.1/a.mp3",
            "https://127.0.1/a.mp3",
            "https://2130706433/a.mp3",
            "https://0x7f000001/a.mp3",
            "https://0x7f.0.0.1/a.mp3",
            "https://0x7F.1/a.mp3",
            "https://017700000001/a.mp3",
            "https://0177.0.0.1/a.mp3",
            "https://127.000.000.001/a.mp3",
            "https://[::1]/a.mp3",
            "https://[0:0:0:0:0:0:0:1]/a.mp3",
            "https://localhost/a.mp3",
            "https://LOCALHOST./a.mp3",
            "https://api.localhost/a.mp3",
            // Private, link-local, CGNAT, benchmarking, documentation, unspecified, broadcast, multicast.
            "https://10.0.0.1/a.mp3",
            "https://012.0.0.1/a.mp3",
            "https://172.16.0.1/a.mp3",
            "https://192.168.1.1/a.mp3",
            "https://0xc0a80101/a.mp3",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/a.mp3",
            "https://198.18.0.1/a.mp3",
            "https://192.0.2.1/a.mp3",
            "https://0.0.0.0/a.mp3",
            "https://0/a.mp3",
            "https://255.255.255.255/a.mp3",
            "https://224.0.0.1/a.mp3",
            "https://240.0.0.1/a.mp3",
            // IPv6: mapped, compatible, NAT64, 6to4, ULA, link-local, multicast, documentation.
            "https://[::ffff:127.0.0.1]/a.mp3",
            "https://[::ffff:7f00:1]/a.mp3",
            "https://[::ffff:10.0.0.1]/a.mp3",
            "https://[::127.0.0.1]/a.mp3",
            "https://[64:ff9b::a00:1]/a.mp3",
            "https://[2002:7f00:1::]/a.mp3",
            "https://[fd00::1]/a.mp3",
            "https://[fe80::1]/a.mp3",
            "https://[ff02::1]/a.mp3",
            "https://[2001:db8::1]/a.mp3",
            // Local names.
            "https://printer.local/a.mp3",
            "https://metadata.google.internal/computeMetadata/v1/",
            "https://intranet/a.mp3",
        ];
        assert!(forbidden.len() >= 40);
        for url in forbidden {
            let err = check_source_url(url, &none).unwrap_err();
            assert!(
                matches!(err.code, ErrorCode::UrlForbidden | ErrorCode::InvalidRequest)
                    && err.message.starts_with("source.url"),
                "{url}: {err:?}"
            );
            assert!(!err.message.contains("127.0.0.1") && !err.message.contains("10.0.0.1"), "names the rule: {err:?}");
        }
        assert_eq!(check_source_url("https://2130706433/", &none).unwrap_err().code, ErrorCode::UrlForbidden);
        assert_eq!(check_source_url("example.com/a", &none).unwrap_err().code, ErrorCode::InvalidRequest);
        for ok in ["https://cdn.example.com/a.mp3?sig=1", "https://8.8.8.8/a.mp3", "https://134744072/a.mp3"] {
            assert!(check_source_url(ok, &none).is_ok(), "{ok}");
        }
        for sneaky in
            ["https://%31%32%37.0.0.1/", "https://127.0.0.1%2e/", "https://１２７.0.0.1/", "https://127。0。0.1/"]
        {
            assert_eq!(check_source_url(sneaky, &none).unwrap_err().code, ErrorCode::UrlForbidden, "{sneaky}");
        }
        let tests = AllowList::parse("127.0.0.1:9000").unwrap();
        assert!(check_source_url("http://127.0.0.1:9000/a.wav", &tests).is_ok());
    }

    #[test]
    fn the_allow_list_names_exact_host_and_port() {
        let list = AllowList::parse("127.0.0.1:9000, Receiver.test:443,[::1]:8080").unwrap();
        assert!(list.allows("127.0.0.1", 9000) && list.allows("receiver.test", 443) && list.allows("[::1]", 8080));
        assert!(!list.allows("127.0.0.1", 9001) && !list.allows("localhost", 9000));
        assert_eq!(AllowList::parse("127.0.0.1").unwrap_err(), "127.0.0.1");
        assert_eq!(AllowList::parse(":80").unwrap_err(), ":80");
        assert_eq!(AllowList::parse("").unwrap(), AllowList::default());
    }
}
