//! The byte stream of one TcpOutput connection: plain TCP, or TLS over it.
//!
//! TcpOutput knows a message is delivered when the peer's TCP stack acknowledged its
//! bytes (`SIOCOUTQ` counts what the socket holds unacknowledged). Over TLS the socket
//! carries records, not the message bytes, so [`Link`] counts the bytes written into the
//! socket and, after each write, notes where the plaintext written so far ends in that
//! count (every TLS write is flushed into the socket before it returns). The socket bytes
//! acknowledged then map back to the plaintext bytes they carry whole.
//!
//! A TCP acknowledgement alone does not say the TLS server took the bytes: in TLS 1.3 the
//! client's handshake is over before the server has checked the client's certificate,
//! and a server that refuses it acknowledges the first bytes, then sends an alert and
//! closes. So nothing on a TLS 1.3 connection counts as acknowledged until the server has
//! shown it accepted the client: a record after the handshake (its session tickets), or
//! `ACCEPT_WAIT` without an alert (for servers that send no tickets).

use crate::plugins::tls::ClientTls;
use futures_rustls::client::TlsStream;
use smol::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use smol::net::TcpStream;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// One connection's stream.
pub enum Link {
    Plain(TcpStream),
    Tls(Box<TlsLink>),
}

/// TLS over a counted socket, and where the plaintext ends in the socket's bytes.
pub struct TlsLink {
    stream: TlsStream<Counted>,
    marks: Marks,
    /// When the client's side of the handshake ended.
    handshaken: Instant,
    /// The server accepted this client (see the module's doc).
    accepted: bool,
    /// The alert the server ended the connection with, once read.
    alert: Option<String>,
}

/// Most reads of what the server sent, per look (4 KiB each): a server that keeps
/// sending cannot keep the output's task reading.
const MAX_RECEIVE_READS: usize = 16;

/// How long a TLS 1.3 server that sends no session ticket has to refuse the client
/// before the connection counts as accepted.
const ACCEPT_WAIT: Duration = Duration::from_secs(1);

/// Where the plaintext written so far ends in the socket's bytes, after each write.
#[derive(Debug, Default)]
struct Marks {
    /// Plaintext bytes written on this connection.
    plain_written: u64,
    /// (plaintext end, socket bytes written once it was flushed), oldest first; only marks
    /// not yet acknowledged are kept.
    ends: VecDeque<(u64, u64)>,
    /// Plaintext bytes known to be acknowledged.
    plain_acked: u64,
}

impl Marks {
    /// `n` more plaintext bytes are wholly in the first `socket_written` socket bytes.
    fn wrote(&mut self, n: u64, socket_written: u64) {
        self.plain_written += n;
        self.ends.push_back((self.plain_written, socket_written));
    }

    /// The plaintext bytes whose socket bytes are all among the first `socket_acked`.
    fn acked(&mut self, socket_acked: u64) -> u64 {
        while let Some(&(plain, socket)) = self.ends.front() {
            if socket > socket_acked {
                break;
            }
            self.plain_acked = plain;
            self.ends.pop_front();
        }
        self.plain_acked
    }
}

/// A TCP stream that counts the bytes written into it.
struct Counted {
    stream: TcpStream,
    written: u64,
}

impl Link {
    /// Plain TCP.
    pub fn plain(stream: TcpStream) -> Link {
        Link::Plain(stream)
    }

    /// Runs the TLS handshake over `stream`.
    pub async fn tls(stream: TcpStream, tls: &ClientTls) -> io::Result<Link> {
        let counted = Counted { stream, written: 0 };
        let stream = tls.connect(counted).await?;
        let tls12 = stream.get_ref().1.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_2);
        Ok(Link::Tls(Box::new(TlsLink {
            stream,
            marks: Marks::default(),
            handshaken: Instant::now(),
            // In TLS 1.2 the server's Finished comes after it checked the client.
            accepted: tls12,
            alert: None,
        })))
    }

    /// Writes some of `buf`; returns how much was taken. Over TLS the records for it are
    /// in the socket when this returns.
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Link::Plain(s) => s.write(buf).await,
            Link::Tls(t) => {
                let n = t.stream.write(buf).await?;
                t.stream.flush().await?;
                let socket_written = t.stream.get_ref().0.written;
                t.marks.wrote(n as u64, socket_written);
                Ok(n)
            }
        }
    }

    /// Writes all of `buf`.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// Ends our side: TLS sends its close_notify alert first; then FIN.
    pub async fn close(&mut self) -> io::Result<()> {
        match self {
            Link::Plain(s) => {
                s.flush().await?;
                s.shutdown(std::net::Shutdown::Write)
            }
            Link::Tls(t) => t.stream.close().await,
        }
    }

    /// Bytes written into the socket on this connection.
    pub fn socket_written(&self, plain_written: u64) -> u64 {
        match self {
            Link::Plain(_) => plain_written,
            Link::Tls(t) => t.stream.get_ref().0.written,
        }
    }

    /// The plaintext bytes (of those written on this connection) whose socket bytes are
    /// all among the first `socket_acked` acknowledged ones.
    pub fn plain_acked(&mut self, socket_acked: u64) -> u64 {
        match self {
            Link::Plain(_) => socket_acked,
            Link::Tls(t) => match t.is_accepted() {
                true => t.marks.acked(socket_acked),
                false => 0,
            },
        }
    }
}

impl Link {
    /// Why the peer ended a TLS connection, when it said so with an alert (a server that
    /// wants a client certificate says it only after the handshake): read from the socket
    /// without blocking.
    pub fn peer_alert(&mut self) -> Option<String> {
        let Link::Tls(t) = self else {
            return None;
        };
        t.receive();
        t.alert.clone()
    }
}

impl TlsLink {
    /// Takes in what the server sent, without waiting; returns whether it sent records
    /// after the handshake. An alert is kept in `alert`.
    fn receive(&mut self) -> bool {
        let (counted, connection) = self.stream.get_mut();
        let mut received = [0u8; 4096];
        let mut any = false;
        for _ in 0..MAX_RECEIVE_READS {
            if self.alert.is_some() {
                break;
            }
            let n = counted.recv_now(&mut received);
            if n == 0 || connection.read_tls(&mut &received[..n]).is_err() {
                break;
            }
            match connection.process_new_packets() {
                Ok(_) => any = true,
                Err(e) => self.alert = Some(e.to_string()),
            }
        }
        any
    }

    /// Whether the server has accepted this client (see the module's doc).
    fn is_accepted(&mut self) -> bool {
        if !self.accepted {
            let heard = self.receive();
            self.accepted =
                self.alert.is_none() && (heard || self.handshaken.elapsed() >= ACCEPT_WAIT);
        }
        self.accepted
    }
}

impl AsRawFd for Link {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Link::Plain(s) => s.as_raw_fd(),
            Link::Tls(t) => t.stream.get_ref().0.stream.as_raw_fd(),
        }
    }
}

/// Before the socket closes, whatever the server sent and nobody read (TLS 1.3 session
/// tickets, an alert) is taken off it: closing a socket with unread bytes resets the
/// connection, and a reset can make the server lose records it had not read yet.
impl Drop for Counted {
    fn drop(&mut self) {
        // Bounded: a peer that keeps sending must not hold the closing task.
        let mut sink = [0u8; 4096];
        for _ in 0..MAX_RECEIVE_READS {
            if self.recv_now(&mut sink) == 0 {
                break;
            }
        }
    }
}

impl Counted {
    /// Bytes already received, without waiting; 0 when there are none (or on an error).
    fn recv_now(&self, buf: &mut [u8]) -> usize {
        // SAFETY: recv into a live buffer of the length given, on a socket we own;
        // MSG_DONTWAIT never blocks.
        let n = unsafe {
            libc::recv(
                self.stream.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        usize::try_from(n).unwrap_or(0)
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.written += n as u64;
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledged_socket_bytes_map_to_whole_plaintext_writes() {
        let mut marks = Marks::default();
        // Three writes of 100 plaintext bytes, each 129 socket bytes, after a 1,000-byte
        // handshake.
        for i in 1..=3u64 {
            marks.wrote(100, 1000 + i * 129);
        }
        assert_eq!(marks.acked(999), 0);
        assert_eq!(
            marks.acked(1128),
            0,
            "a record not wholly acknowledged counts nothing"
        );
        assert_eq!(marks.acked(1129), 100);
        assert_eq!(marks.acked(1257), 100);
        assert_eq!(marks.acked(1300), 200);
        assert_eq!(marks.acked(1387), 300);
        assert!(marks.ends.is_empty());
    }
}
