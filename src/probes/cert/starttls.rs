//! STARTTLS: upgrading a plain SMTP or IMAP connection to where the TLS handshake
//! starts, with every server line bounded and sanitized.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use super::StartTls;
use crate::sanitize;

/// Longest STARTTLS response line accepted, and most lines in one response: a hostile
/// server cannot make the probe buffer without bound.
pub(super) const MAX_LINE: usize = 4096;
const MAX_LINES: usize = 100;

/// Upgrades a plain SMTP (RFC 3207) or IMAP (RFC 3501) connection: returns the stream
/// positioned where the TLS handshake starts. Refuses a server that sends anything
/// after accepting STARTTLS: such bytes would be read as if they came through TLS
/// (the classic STARTTLS command-injection hole).
pub(super) async fn starttls<S>(kind: StartTls, stream: S) -> Result<S, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut io = BufReader::new(stream);
    match kind {
        StartTls::Smtp => smtp_starttls(&mut io).await?,
        StartTls::Imap => imap_starttls(&mut io).await?,
    }
    if !io.buffer().is_empty() {
        return Err(
            "the server sent data right after accepting STARTTLS; refusing to continue".into(),
        );
    }
    Ok(io.into_inner())
}

async fn smtp_starttls<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
) -> Result<(), String> {
    let (code, text) = smtp_reply(io).await?;
    if code != 220 {
        return Err(format!("unexpected greeting: {code} {text}"));
    }
    send(io, b"EHLO fleetdeck.invalid\r\n").await?;
    let (code, text) = smtp_reply(io).await?;
    if code != 250 {
        return Err(format!("EHLO refused: {code} {text}"));
    }
    send(io, b"STARTTLS\r\n").await?;
    let (code, reply) = smtp_reply(io).await?;
    if code != 220 {
        let advertised = text
            .lines()
            .any(|l| l.trim().eq_ignore_ascii_case("STARTTLS"));
        let hint = if advertised {
            ""
        } else {
            " (not advertised in EHLO)"
        };
        return Err(format!("STARTTLS refused: {code} {reply}{hint}"));
    }
    Ok(())
}

/// One SMTP reply, possibly multi-line (`250-…` continued, `250 …` last): the code and
/// the text of every line, newline-separated.
async fn smtp_reply<R: AsyncBufRead + Unpin>(io: &mut R) -> Result<(u16, String), String> {
    let mut text = String::new();
    for _ in 0..MAX_LINES {
        let line = read_line(io).await?;
        let code = line
            .get(..3)
            .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| format!("not an SMTP reply: {line:?}"))?;
        let sep = line.as_bytes().get(3).copied();
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(line.get(4..).unwrap_or(""));
        match sep {
            Some(b'-') => continue,
            None | Some(b' ') => return Ok((code, text)),
            Some(_) => return Err(format!("not an SMTP reply: {line:?}")),
        }
    }
    Err(format!("SMTP reply longer than {MAX_LINES} lines"))
}

async fn imap_starttls<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
) -> Result<(), String> {
    let greeting = read_line(io).await?;
    let upper = greeting.to_ascii_uppercase();
    if upper.starts_with("* PREAUTH") {
        // RFC 3501: STARTTLS is only valid before authentication.
        return Err(format!(
            "server pre-authenticated the connection, STARTTLS not possible: {greeting}"
        ));
    }
    if !upper.starts_with("* OK") {
        return Err(format!("unexpected greeting: {greeting}"));
    }
    send(io, b"a001 STARTTLS\r\n").await?;
    for _ in 0..MAX_LINES {
        let line = read_line(io).await?;
        if line.starts_with("* ") {
            continue; // untagged data, e.g. a CAPABILITY response
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("A001 OK") {
            return Ok(());
        }
        return Err(format!("STARTTLS refused: {line}"));
    }
    Err(format!("no answer to STARTTLS within {MAX_LINES} lines"))
}

async fn send<S: AsyncWrite + Unpin>(io: &mut S, bytes: &[u8]) -> Result<(), String> {
    io.write_all(bytes)
        .await
        .map_err(|e| format!("sending: {e}"))?;
    io.flush().await.map_err(|e| format!("sending: {e}"))
}

/// One CRLF- (or LF-) terminated line, without the terminator, sanitized; at most
/// [`MAX_LINE`] bytes.
async fn read_line<R: AsyncBufRead + Unpin>(io: &mut R) -> Result<String, String> {
    let mut line = Vec::new();
    loop {
        let buf = io.fill_buf().await.map_err(|e| format!("reading: {e}"))?;
        if buf.is_empty() {
            return Err("the server closed the connection".into());
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..take]);
        io.consume(take);
        if line.len() > MAX_LINE {
            return Err(format!("a line longer than {MAX_LINE} bytes"));
        }
        if done {
            break;
        }
    }
    let text = String::from_utf8_lossy(&line);
    Ok(sanitize::line(text.trim_end_matches(['\r', '\n'])))
}
