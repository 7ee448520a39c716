//! serde over a positioned [`Node`]: typed settings are deserialized straight from
//! the loaded tree, and an error carries the position of the innermost node it arose
//! in (a wrong field value, an unknown field name, a missing field's mapping).

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use super::yaml::{Mark, Node, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeError {
    pub message: String,
    pub mark: Option<Mark>,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            mark: None,
        }
    }
}

fn at(mark: Mark) -> impl Fn(DeError) -> DeError {
    move |mut e| {
        e.mark.get_or_insert(mark);
        e
    }
}

/// Deserializes `T` from `node`.
pub fn from_node<'de, T: serde::Deserialize<'de>>(node: &'de Node) -> Result<T, DeError> {
    T::deserialize(node).map_err(at(node.mark))
}

impl<'de> de::Deserializer<'de> for &'de Node {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => {
                if let Ok(v) = i64::try_from(*i) {
                    visitor.visit_i64(v)
                } else if let Ok(v) = u64::try_from(*i) {
                    visitor.visit_u64(v)
                } else {
                    visitor.visit_i128(*i)
                }
            }
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Seq(items) => visitor.visit_seq(Seq { iter: items.iter() }),
            Value::Map(pairs) => visitor.visit_map(Map {
                iter: pairs.iter(),
                value: None,
            }),
        };
        result.map_err(at(self.mark))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self).map_err(at(self.mark))
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.value {
            Value::Str(s) => visitor
                .visit_enum(s.as_str().into_deserializer())
                .map_err(at(self.mark)),
            _ => Err(de::Error::invalid_type(unexpected(self), &visitor)).map_err(at(self.mark)),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

fn unexpected(node: &Node) -> de::Unexpected<'_> {
    match &node.value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Int(i) => match i64::try_from(*i) {
            Ok(v) => de::Unexpected::Signed(v),
            Err(_) => de::Unexpected::Other("integer"),
        },
        Value::Float(f) => de::Unexpected::Float(*f),
        Value::Str(s) => de::Unexpected::Str(s),
        Value::Seq(_) => de::Unexpected::Seq,
        Value::Map(_) => de::Unexpected::Map,
    }
}

struct Seq<'de> {
    iter: std::slice::Iter<'de, Node>,
}

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some(node) => seed.deserialize(node).map(Some).map_err(at(node.mark)),
            None => Ok(None),
        }
    }
}

struct Map<'de> {
    iter: std::slice::Iter<'de, (Node, Node)>,
    value: Option<&'de Node>,
}

impl<'de> MapAccess<'de> for Map<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k).map(Some).map_err(at(k.mark))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some(v) => seed.deserialize(v).map_err(at(v.mark)),
            None => Err(de::Error::custom("value requested before key")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::yaml::load;
    use crate::probes::backup::BackupRepo;

    fn node(text: &str) -> Node {
        load(text).expect("yaml").0.expect("doc")
    }

    #[test]
    fn typed_values_come_through() {
        let n = node("- name: app\n  kind: restic\n  repository: /r\n  paths: [/srv]\n");
        let repos: Vec<BackupRepo> = from_node(&n).expect("typed");
        assert_eq!(repos[0].name, "app");
        assert_eq!(repos[0].warning_hours, 26);
    }

    #[test]
    fn errors_point_at_the_innermost_node() {
        let n = node("- name: app\n  kind: restik\n  repository: /r\n");
        let err = from_node::<Vec<BackupRepo>>(&n).expect_err("bad kind");
        assert_eq!(err.mark, Some(Mark { line: 2, column: 9 }), "{err}");
        let n = node("- name: app\n  kind: restic\n  repo: /r\n");
        let err = from_node::<Vec<BackupRepo>>(&n).expect_err("unknown field");
        assert_eq!(err.mark, Some(Mark { line: 3, column: 3 }), "{err}");
        assert!(err.message.contains("repo"), "{err}");
        let n = node("- name: app\n  kind: restic\n");
        let err = from_node::<Vec<BackupRepo>>(&n).expect_err("missing field");
        assert_eq!(err.mark, Some(Mark { line: 1, column: 3 }), "{err}");
    }
}
