//! A tiny DNS server for tests: answers A, TXT, MX and CNAME queries from
//! an in-memory map on 127.0.0.1, over UDP and TCP on the same port, so
//! code that verifies DNS records can be pointed at it (`--dns-resolver`).
//!
//! It speaks the RFC 1035 wire format itself (no DNS library): names in
//! queries may use compression pointers (only backwards, bounded jumps),
//! TXT values longer than 255 bytes go out as several character-strings
//! (RFC 1035 §3.3.14, as published 2048-bit DKIM keys are), CNAMEs are
//! followed within the map, an unknown name gets NXDOMAIN (a name that only
//! has names below it, like `_domainkey.example.com`, gets an empty
//! NOERROR), EDNS(0) payload sizes (RFC 6891) are honoured and UDP answers
//! that do not fit set TC so the client retries over TCP. Malformed
//! packets are answered with FORMERR or ignored, never a panic.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_MX: u16 = 15;
const TYPE_TXT: u16 = 16;
const TYPE_OPT: u16 = 41;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;
const CLASS_ANY: u16 = 255;

const NOERROR: u8 = 0;
const FORMERR: u8 = 1;
const SERVFAIL: u8 = 2;
const NXDOMAIN: u8 = 3;
const NOTIMP: u8 = 4;
const REFUSED: u8 = 5;

/// TTL of every answer; resolvers under test should not cache anyway.
const TTL: u32 = 60;
/// The largest UDP answer sent, whatever the client advertises.
const MAX_UDP: usize = 1232;
/// How long a TCP connection may sit idle.
const TCP_IDLE: Duration = Duration::from_secs(10);

#[derive(Debug, Default, Clone)]
struct Node {
    a: Vec<Ipv4Addr>,
    txt: Vec<String>,
    mx: Vec<(u16, String)>,
    cname: Option<String>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.a.is_empty() && self.txt.is_empty() && self.mx.is_empty() && self.cname.is_none()
    }
}

type Zone = HashMap<String, Node>;

/// A DNS server on 127.0.0.1 answering from records set by the test. It
/// stops when dropped.
pub struct DnsServer {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    tasks: Vec<JoinHandle<()>>,
}

impl DnsServer {
    /// Binds UDP and TCP on the same free port of 127.0.0.1 and starts answering.
    pub async fn start() -> DnsServer {
        let zone: Arc<Mutex<Zone>> = Arc::default();
        let mut last_error = None;
        for _ in 0..50 {
            let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP socket for the test DNS server");
            let addr = udp.local_addr().expect("local address of the test DNS server");
            match TcpListener::bind(addr).await {
                Ok(tcp) => {
                    let tasks =
                        vec![tokio::spawn(serve_udp(udp, zone.clone())), tokio::spawn(serve_tcp(tcp, zone.clone()))];
                    return DnsServer { addr, zone, tasks };
                }
                Err(e) => last_error = Some(e),
            }
        }
        panic!("no port free for both UDP and TCP on 127.0.0.1 for the test DNS server: {last_error:?}");
    }

    /// Where the server listens (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn zone(&self) -> MutexGuard<'_, Zone> {
        lock(&self.zone)
    }

    fn update(&self, name: &str, change: impl FnOnce(&mut Node)) {
        let mut zone = self.zone();
        let key = normalize(name);
        let node = zone.entry(key.clone()).or_default();
        change(node);
        if node.is_empty() {
            zone.remove(&key);
        }
    }

    /// Replaces the TXT records at `name`: one record per value; values
    /// longer than 255 bytes go out as several character-strings.
    pub fn set_txt(&self, name: &str, values: Vec<String>) {
        self.update(name, |n| n.txt = values);
    }

    /// Replaces the MX records at `name` (priority, host).
    pub fn set_mx(&self, name: &str, records: Vec<(u16, String)>) {
        self.update(name, |n| n.mx = records.into_iter().map(|(p, h)| (p, normalize(&h))).collect());
    }

    /// Replaces the A records at `name`.
    pub fn set_a(&self, name: &str, addresses: Vec<Ipv4Addr>) {
        self.update(name, |n| n.a = addresses);
    }

    /// Makes `name` an alias of `target`.
    pub fn set_cname(&self, name: &str, target: &str) {
        self.update(name, |n| n.cname = Some(normalize(target)));
    }

    /// Removes every record at `name`.
    pub fn clear(&self, name: &str) {
        self.zone().remove(&normalize(name));
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A poisoned lock only means another test thread panicked; the map is still usable.
fn lock(zone: &Mutex<Zone>) -> MutexGuard<'_, Zone> {
    zone.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

async fn serve_udp(socket: UdpSocket, zone: Arc<Mutex<Zone>>) {
    let mut buf = vec![0u8; 65535];
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let reply = {
            let zone = lock(&zone);
            respond(&zone, &buf[..len], true)
        };
        if let Some(reply) = reply {
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

async fn serve_tcp(listener: TcpListener, zone: Arc<Mutex<Zone>>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve_tcp_connection(stream, zone.clone()));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Length-prefixed messages (RFC 1035 §4.2.2) until the client closes or idles.
async fn serve_tcp_connection(stream: TcpStream, zone: Arc<Mutex<Zone>>) {
    loop {
        let mut len = [0u8; 2];
        if !matches!(tokio::time::timeout(TCP_IDLE, read_exact(&stream, &mut len)).await, Ok(Ok(()))) {
            return;
        }
        let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if !matches!(tokio::time::timeout(TCP_IDLE, read_exact(&stream, &mut message)).await, Ok(Ok(()))) {
            return;
        }
        let reply = {
            let zone = lock(&zone);
            respond(&zone, &message, false)
        };
        let Some(reply) = reply else { return };
        let Ok(reply_len) = u16::try_from(reply.len()) else { return };
        let mut framed = reply_len.to_be_bytes().to_vec();
        framed.extend_from_slice(&reply);
        if write_all(&stream, &framed).await.is_err() {
            return;
        }
    }
}

async fn read_exact(stream: &TcpStream, buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        stream.readable().await?;
        match stream.try_read(&mut buf[filled..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn write_all(stream: &TcpStream, buf: &[u8]) -> io::Result<()> {
    let mut written = 0;
    while written < buf.len() {
        stream.writable().await?;
        match stream.try_write(&buf[written..]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A parsed question.
#[derive(Debug, PartialEq, Eq)]
struct Question {
    /// Labels as received (case preserved, to echo them back).
    labels: Vec<Vec<u8>>,
    qtype: u16,
    qclass: u16,
}

impl Question {
    fn key(&self) -> String {
        let labels: Vec<String> = self.labels.iter().map(|l| String::from_utf8_lossy(l).to_ascii_lowercase()).collect();
        labels.join(".")
    }
}

fn u16_at(packet: &[u8], pos: usize) -> Option<u16> {
    let bytes = packet.get(pos..pos.checked_add(2)?)?;
    Some(u16::from_be_bytes([bytes[0], bytes[1]]))
}

/// Reads a possibly compressed name (RFC 1035 §4.1.4) at `start`; returns
/// its labels and the position after it. Pointers must point backwards,
/// so every walk ends.
fn read_name(packet: &[u8], start: usize) -> Option<(Vec<Vec<u8>>, usize)> {
    let mut labels = Vec::new();
    let mut pos = start;
    let mut after = None;
    let mut wire_len = 1usize;
    let mut jumps = 0;
    loop {
        let len = *packet.get(pos)?;
        match len & 0xC0 {
            0x00 if len == 0 => {
                return Some((labels, after.unwrap_or(pos + 1)));
            }
            0x00 => {
                let label = packet.get(pos + 1..pos + 1 + usize::from(len))?;
                wire_len += 1 + usize::from(len);
                if wire_len > 255 {
                    return None;
                }
                labels.push(label.to_vec());
                pos += 1 + usize::from(len);
            }
            0xC0 => {
                let low = *packet.get(pos + 1)?;
                let target = usize::from(len & 0x3F) << 8 | usize::from(low);
                jumps += 1;
                if target >= pos || jumps > 64 {
                    return None;
                }
                after.get_or_insert(pos + 2);
                pos = target;
            }
            // 0x40 and 0x80: extended label types (RFC 6891 §5), refused.
            _ => return None,
        }
    }
}

/// Skips a resource record (RFC 1035 §4.1.3); returns its type, class and the position after it.
fn skip_record(packet: &[u8], pos: usize) -> Option<(u16, u16, usize)> {
    let (_, pos) = read_name(packet, pos)?;
    let rtype = u16_at(packet, pos)?;
    let class = u16_at(packet, pos + 2)?;
    let rdlen = usize::from(u16_at(packet, pos + 8)?);
    let end = pos + 10 + rdlen;
    if end > packet.len() {
        return None;
    }
    Some((rtype, class, end))
}

/// The bytes to send back for `packet`, or `None` to stay silent (too
/// short to carry an ID, or not a query).
fn respond(zone: &Zone, packet: &[u8], udp: bool) -> Option<Vec<u8>> {
    if packet.len() < 12 {
        return None;
    }
    let id = [packet[0], packet[1]];
    let flags = packet[2];
    if flags & 0x80 != 0 {
        return None; // a response, not a query
    }
    let rd = flags & 0x01;
    let opcode = (flags >> 3) & 0x0F;
    let header_only = |rcode: u8| {
        let mut reply = vec![0u8; 12];
        reply[..2].copy_from_slice(&id);
        reply[2] = 0x80 | (opcode << 3) | rd;
        reply[3] = 0x80 | rcode;
        reply
    };
    if opcode != 0 {
        return Some(header_only(NOTIMP));
    }
    let counts = [u16_at(packet, 4)?, u16_at(packet, 6)?, u16_at(packet, 8)?, u16_at(packet, 10)?];
    if counts[0] != 1 {
        return Some(header_only(FORMERR));
    }
    let Some((labels, pos)) = read_name(packet, 12) else {
        return Some(header_only(FORMERR));
    };
    let (Some(qtype), Some(qclass)) = (u16_at(packet, pos), u16_at(packet, pos + 2)) else {
        return Some(header_only(FORMERR));
    };
    let question = Question { labels, qtype, qclass };
    // Find an OPT record (RFC 6891) among the remaining records.
    let mut edns: Option<u16> = None;
    let mut pos = pos + 4;
    for _ in 0..(u32::from(counts[1]) + u32::from(counts[2]) + u32::from(counts[3])) {
        let Some((rtype, class, next)) = skip_record(packet, pos) else {
            return Some(header_only(FORMERR));
        };
        if rtype == TYPE_OPT {
            edns = Some(class);
        }
        pos = next;
    }
    let (rcode, answers) =
        if qclass != CLASS_IN && qclass != CLASS_ANY { (REFUSED, Vec::new()) } else { resolve(zone, &question) };
    let Some(question_bytes) = encode_labels(&question.labels) else {
        return Some(header_only(FORMERR));
    };
    let limit = match (udp, edns) {
        (false, _) => usize::from(u16::MAX),
        (true, None) => 512,
        (true, Some(size)) => usize::from(size).clamp(512, MAX_UDP),
    };
    let opt_len = if edns.is_some() { 11 } else { 0 };
    let answers_len: usize = answers.iter().map(Vec::len).sum();
    let fits = 12 + question_bytes.len() + 4 + answers_len + opt_len <= limit;
    let (answers, tc) = if fits { (answers, 0) } else { (Vec::new(), 0x02) };
    let Ok(ancount) = u16::try_from(answers.len()) else {
        return Some(header_only(SERVFAIL));
    };
    let mut reply = Vec::with_capacity(512);
    reply.extend_from_slice(&id);
    reply.push(0x80 | 0x04 | tc | rd); // QR, AA, TC, RD
    reply.push(0x80 | rcode); // RA
    reply.extend_from_slice(&1u16.to_be_bytes());
    reply.extend_from_slice(&ancount.to_be_bytes());
    reply.extend_from_slice(&0u16.to_be_bytes());
    reply.extend_from_slice(&u16::from(edns.is_some()).to_be_bytes());
    reply.extend_from_slice(&question_bytes);
    reply.extend_from_slice(&qtype.to_be_bytes());
    reply.extend_from_slice(&qclass.to_be_bytes());
    for answer in answers {
        reply.extend_from_slice(&answer);
    }
    if edns.is_some() {
        // Root name, OPT, our payload size, extended rcode/version/flags 0, no options.
        reply.push(0);
        reply.extend_from_slice(&TYPE_OPT.to_be_bytes());
        reply.extend_from_slice(&(MAX_UDP as u16).to_be_bytes());
        reply.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    }
    Some(reply)
}

/// The response code and encoded answer records for a question.
fn resolve(zone: &Zone, question: &Question) -> (u8, Vec<Vec<u8>>) {
    let mut answers = Vec::new();
    // The first owner is the question name: a pointer to offset 12 keeps its case.
    let mut owner: Vec<u8> = vec![0xC0, 0x0C];
    let mut name = question.key();
    for _ in 0..8 {
        let Some(node) = zone.get(&name) else {
            if !answers.is_empty() {
                return (NOERROR, answers); // alias to a name we do not serve
            }
            let below = format!(".{name}");
            let exists = zone.keys().any(|k| k.ends_with(&below));
            return (if exists { NOERROR } else { NXDOMAIN }, answers);
        };
        if let Some(target) = &node.cname
            && question.qtype != TYPE_CNAME
        {
            let Some(target_wire) = encode_name(target) else { return (SERVFAIL, Vec::new()) };
            let Some(rr) = record(&owner, TYPE_CNAME, &target_wire) else { return (SERVFAIL, Vec::new()) };
            answers.push(rr);
            owner = target_wire;
            name = target.clone();
            continue;
        }
        let mut rdatas: Vec<(u16, Vec<u8>)> = Vec::new();
        let any = question.qtype == TYPE_ANY;
        if any || question.qtype == TYPE_A {
            rdatas.extend(node.a.iter().map(|ip| (TYPE_A, ip.octets().to_vec())));
        }
        if any || question.qtype == TYPE_TXT {
            rdatas.extend(node.txt.iter().map(|t| (TYPE_TXT, txt_rdata(t))));
        }
        if any || question.qtype == TYPE_MX {
            for (priority, host) in &node.mx {
                let Some(host) = encode_name(host) else { return (SERVFAIL, Vec::new()) };
                let mut rdata = priority.to_be_bytes().to_vec();
                rdata.extend_from_slice(&host);
                rdatas.push((TYPE_MX, rdata));
            }
        }
        if (any || question.qtype == TYPE_CNAME)
            && let Some(target) = &node.cname
        {
            let Some(target) = encode_name(target) else { return (SERVFAIL, Vec::new()) };
            rdatas.push((TYPE_CNAME, target));
        }
        for (rtype, rdata) in rdatas {
            let Some(rr) = record(&owner, rtype, &rdata) else { return (SERVFAIL, Vec::new()) };
            answers.push(rr);
        }
        return (NOERROR, answers);
    }
    (SERVFAIL, Vec::new()) // CNAME chain too long or looping
}

/// One resource record; `None` when the data is too long for RDLENGTH.
fn record(owner: &[u8], rtype: u16, rdata: &[u8]) -> Option<Vec<u8>> {
    let rdlen = u16::try_from(rdata.len()).ok()?;
    let mut rr = owner.to_vec();
    rr.extend_from_slice(&rtype.to_be_bytes());
    rr.extend_from_slice(&CLASS_IN.to_be_bytes());
    rr.extend_from_slice(&TTL.to_be_bytes());
    rr.extend_from_slice(&rdlen.to_be_bytes());
    rr.extend_from_slice(rdata);
    Some(rr)
}

/// TXT RDATA: the value in character-strings of at most 255 bytes.
fn txt_rdata(value: &str) -> Vec<u8> {
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return vec![0];
    }
    let mut rdata = Vec::with_capacity(bytes.len() + bytes.len() / 255 + 1);
    for chunk in bytes.chunks(255) {
        rdata.push(chunk.len() as u8); // chunks(255): the length fits a byte
        rdata.extend_from_slice(chunk);
    }
    rdata
}

/// A dotted name in wire format (uncompressed); `None` when a label is
/// empty or longer than 63 bytes or the name longer than 255.
fn encode_name(name: &str) -> Option<Vec<u8>> {
    let name = name.trim_end_matches('.');
    let labels: Vec<Vec<u8>> =
        if name.is_empty() { Vec::new() } else { name.split('.').map(|l| l.as_bytes().to_vec()).collect() };
    encode_labels(&labels)
}

fn encode_labels(labels: &[Vec<u8>]) -> Option<Vec<u8>> {
    let mut wire = Vec::new();
    for label in labels {
        let len = u8::try_from(label.len()).ok().filter(|l| (1..=63).contains(l))?;
        wire.push(len);
        wire.extend_from_slice(label);
    }
    wire.push(0);
    (wire.len() <= 255).then_some(wire)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend(encode_name(name).unwrap());
        q.extend(qtype.to_be_bytes());
        q.extend(CLASS_IN.to_be_bytes());
        q
    }

    fn zone_with_txt(name: &str, value: &str) -> Zone {
        let mut zone = Zone::new();
        zone.insert(name.into(), Node { txt: vec![value.into()], ..Node::default() });
        zone
    }

    #[test]
    fn reads_compressed_names() {
        // "example.com" at 12, then "mail" + pointer to 12, then a pointer to the pointer.
        let mut p = vec![0u8; 12];
        p.extend(encode_name("example.com").unwrap());
        let second = p.len();
        p.extend([4, b'm', b'a', b'i', b'l', 0xC0, 12]);
        let third = p.len();
        p.extend([0xC0, second as u8]);
        let (labels, end) = read_name(&p, second).unwrap();
        assert_eq!(labels, vec![b"mail".to_vec(), b"example".to_vec(), b"com".to_vec()]);
        assert_eq!(end, third);
        let (labels, end) = read_name(&p, third).unwrap();
        assert_eq!(labels.len(), 3);
        assert_eq!(end, third + 2);
        // Forward pointers and self pointers are refused.
        assert!(read_name(&[0xC0, 0x00], 0).is_none());
        assert!(read_name(&[0xC0, 0x05, 0, 0, 0, 0], 0).is_none());
        assert!(read_name(&[0x40], 0).is_none());
        assert!(read_name(&[3, b'a'], 0).is_none());
    }

    #[test]
    fn long_txt_values_are_split_into_character_strings() {
        let value = "a".repeat(600);
        let rdata = txt_rdata(&value);
        assert_eq!(rdata.len(), 603);
        assert_eq!(rdata[0], 255);
        assert_eq!(rdata[256], 255);
        assert_eq!(rdata[512], 90);
        assert_eq!(txt_rdata(""), vec![0]);
    }

    #[test]
    fn answers_txt_with_case_preserved_and_nxdomain_otherwise() {
        let zone = zone_with_txt("_dmarc.example.com", "v=DMARC1; p=none");
        let reply = respond(&zone, &query("_DMARC.Example.com", TYPE_TXT), true).unwrap();
        assert_eq!(reply[3] & 0x0F, NOERROR);
        assert_eq!(u16_at(&reply, 6), Some(1));
        assert!(reply.windows(7).any(|w| w == b"Example"));
        let reply = respond(&zone, &query("nothing.example.com", TYPE_TXT), true).unwrap();
        assert_eq!(reply[3] & 0x0F, NXDOMAIN);
        // An empty non-terminal exists.
        let reply = respond(&zone, &query("example.com", TYPE_TXT), true).unwrap();
        assert_eq!(reply[3] & 0x0F, NOERROR);
        assert_eq!(u16_at(&reply, 6), Some(0));
    }

    #[test]
    fn big_udp_answers_are_truncated_without_edns() {
        let zone = zone_with_txt("big.example", &"x".repeat(600));
        let reply = respond(&zone, &query("big.example", TYPE_TXT), true).unwrap();
        assert_eq!(reply[2] & 0x02, 0x02);
        assert_eq!(u16_at(&reply, 6), Some(0));
        let reply = respond(&zone, &query("big.example", TYPE_TXT), false).unwrap();
        assert_eq!(reply[2] & 0x02, 0);
        assert_eq!(u16_at(&reply, 6), Some(1));
    }

    #[test]
    fn garbage_never_panics() {
        let zone = zone_with_txt("a.example", "x");
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let base = query("a.example", TYPE_TXT);
        for round in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 80) as usize;
            let mut packet: Vec<u8> = if round % 2 == 0 {
                (0..len).map(|i| (seed >> (i % 56)) as u8).collect()
            } else {
                let mut p = base.clone();
                let at = (seed as usize) % p.len();
                p[at] = (seed >> 8) as u8;
                p.truncate(len.max(12).min(p.len()));
                p
            };
            if round % 3 == 0 && packet.len() > 2 {
                packet[2] &= 0x7F; // keep it a query
            }
            let _ = respond(&zone, &packet, round % 4 != 0);
        }
    }
}
