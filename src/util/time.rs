//! RFC 3339 text for times, the one form fleetdeck writes them in (JSON, audit lines,
//! reports, the console): always UTC, so two hosts' times compare as text.

use ::time::OffsetDateTime;
use ::time::format_description::well_known::Rfc3339;

/// `t` in UTC as RFC 3339, or `None` for a time RFC 3339 cannot hold (a year before 0). Callers that must print something use [`rfc3339`].
pub fn try_rfc3339(t: OffsetDateTime) -> Option<String> {
    t.to_offset(::time::UtcOffset::UTC).format(&Rfc3339).ok()
}

/// `t` in UTC as RFC 3339; the Unix time in seconds for a year RFC 3339 cannot hold,
/// so a record is never written without its time.
pub fn rfc3339(t: OffsetDateTime) -> String {
    try_rfc3339(t).unwrap_or_else(|| t.unix_timestamp().to_string())
}

/// Now, in UTC, as RFC 3339.
pub fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

/// serde `with` module: an `OffsetDateTime` as RFC 3339 text in UTC, read back from
/// any offset.
pub mod serde_rfc3339 {
    use ::time::OffsetDateTime;
    use ::time::format_description::well_known::Rfc3339;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = super::try_rfc3339(*t)
            .ok_or_else(|| serde::ser::Error::custom("a time outside RFC 3339's years"))?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
    }

    /// The same for an `Option<OffsetDateTime>` (`None` is `null`).
    pub mod option {
        use ::time::OffsetDateTime;
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            let text: Option<String> = Option::deserialize(d)?;
            text.map(|text| {
                OffsetDateTime::parse(&text, &::time::format_description::well_known::Rfc3339)
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
        }
    }
}

/// `50h`, `3d`, `12m`: enough to judge at a glance.
pub fn age_text(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 4 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_utc_and_read_back() {
        let t = OffsetDateTime::parse("2026-12-03T14:05:06+02:00", &Rfc3339).unwrap();
        assert_eq!(rfc3339(t), "2026-12-03T12:05:06Z");
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Doc {
            #[serde(with = "serde_rfc3339")]
            at: OffsetDateTime,
            #[serde(with = "serde_rfc3339::option")]
            maybe: Option<OffsetDateTime>,
        }
        let doc = Doc { at: t, maybe: None };
        let json = serde_json::to_string(&doc).unwrap();
        assert_eq!(json, r#"{"at":"2026-12-03T12:05:06Z","maybe":null}"#);
        assert_eq!(serde_json::from_str::<Doc>(&json).unwrap(), doc);
    }

    #[test]
    fn a_year_rfc3339_cannot_hold_falls_back_to_unix_seconds() {
        let far = OffsetDateTime::from_unix_timestamp(-70_000_000_000).unwrap();
        assert_eq!(try_rfc3339(far), None);
        assert_eq!(rfc3339(far), "-70000000000");
    }
}
