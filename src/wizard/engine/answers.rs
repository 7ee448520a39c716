//! The answers given so far (and operations' outputs), by step.

use std::collections::BTreeMap;

use super::StepId;

/// An answer, or an operation's output, under its step's id.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer<O> {
    Text(String),
    Chosen(Vec<String>),
    Confirmed(bool),
    Reviewed,
    Done(O),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Answers<O> {
    pub(super) map: BTreeMap<StepId, Answer<O>>,
}

impl<O> Default for Answers<O> {
    fn default() -> Self {
        Answers {
            map: BTreeMap::new(),
        }
    }
}

impl<O> Answers<O> {
    pub fn get(&self, id: &str) -> Option<&Answer<O>> {
        self.map.get(id)
    }

    pub fn text(&self, id: &str) -> Option<&str> {
        match self.map.get(id) {
            Some(Answer::Text(t)) => Some(t),
            _ => None,
        }
    }

    pub fn chosen(&self, id: &str) -> Option<&[String]> {
        match self.map.get(id) {
            Some(Answer::Chosen(c)) => Some(c),
            _ => None,
        }
    }

    pub fn confirmed(&self, id: &str) -> Option<bool> {
        match self.map.get(id) {
            Some(Answer::Confirmed(c)) => Some(*c),
            _ => None,
        }
    }

    pub fn output(&self, id: &str) -> Option<&O> {
        match self.map.get(id) {
            Some(Answer::Done(o)) => Some(o),
            _ => None,
        }
    }

    pub fn set(&mut self, id: StepId, answer: Answer<O>) {
        self.map.insert(id, answer);
    }
}
