//! Reading the leaf certificate's fields (X.509, with x509-cert): validity, issuer,
//! subject and subject alternative names, every text sanitized.

use std::net::IpAddr;

use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;

use crate::sanitize;

/// The fields of the leaf certificate the report shows. Everything textual is
/// sanitized: it is the server's to choose.
pub(super) struct Leaf {
    pub(super) not_before: OffsetDateTime,
    pub(super) not_after: OffsetDateTime,
    pub(super) issuer: String,
    pub(super) subject: String,
    pub(super) names: Vec<String>,
    /// Issuer and subject are the same name: self-signed, as far as names tell.
    pub(super) self_issued: bool,
}

impl Leaf {
    pub(super) fn parse(der: &CertificateDer<'_>) -> Result<Leaf, String> {
        let cert = Certificate::from_der(der.as_ref()).map_err(|e| e.to_string())?;
        let tbs = cert.tbs_certificate();
        let validity = tbs.validity();
        let names = match tbs.get_extension::<SubjectAltName>() {
            Ok(Some((_, san))) => san.0.iter().map(general_name).collect(),
            Ok(None) => Vec::new(),
            Err(e) => return Err(format!("subject alternative names: {e}")),
        };
        Ok(Leaf {
            not_before: x509_time(validity.not_before)?,
            not_after: x509_time(validity.not_after)?,
            issuer: name_text(tbs.issuer()),
            subject: name_text(tbs.subject()),
            names,
            self_issued: tbs.issuer() == tbs.subject(),
        })
    }
}

fn x509_time(t: x509_cert::time::Time) -> Result<OffsetDateTime, String> {
    let secs = i64::try_from(t.to_unix_duration().as_secs())
        .map_err(|_| "time out of range".to_string())?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(|e| e.to_string())
}

/// The common name when there is one, else the whole DN (RFC 4514).
fn name_text(name: &Name) -> String {
    match name.common_name() {
        Ok(Some(cn)) => sanitize::line(&cn.value()),
        _ => sanitize::line(&name.to_string()),
    }
}

fn general_name(name: &GeneralName) -> String {
    match name {
        GeneralName::DnsName(dns) => sanitize::line(dns.as_str()),
        GeneralName::IpAddress(ip) => {
            let bytes = ip.as_bytes();
            match bytes.len() {
                4 => <[u8; 4]>::try_from(bytes)
                    .map(|b| IpAddr::from(b).to_string())
                    .unwrap_or_default(),
                16 => <[u8; 16]>::try_from(bytes)
                    .map(|b| IpAddr::from(b).to_string())
                    .unwrap_or_default(),
                _ => format!("ip:{}", hex::encode(bytes)),
            }
        }
        GeneralName::Rfc822Name(mail) => format!("email:{}", sanitize::line(mail.as_str())),
        GeneralName::UniformResourceIdentifier(uri) => {
            format!("uri:{}", sanitize::line(uri.as_str()))
        }
        GeneralName::DirectoryName(dn) => format!("dirname:{}", sanitize::line(&dn.to_string())),
        GeneralName::OtherName(_) => "other:othername".into(),
        GeneralName::EdiPartyName(_) => "other:edipartyname".into(),
        GeneralName::RegisteredId(oid) => format!("other:registeredid:{oid}"),
    }
}
