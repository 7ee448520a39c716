//! The detection output: `DETECT_COMMAND`'s marked sections split per tool, each
//! tool's reader run, and the one view that is active chosen (ufw, native nftables,
//! iptables, or none).

use std::collections::{BTreeMap, BTreeSet};

use super::iptables::{merge_iptables, parse_iptables_save};
use super::nft::parse_nft;
use super::ufw::parse_ufw;
use super::{ObservedBackend, ObservedPolicy, Verdict, excerpt};

/// One tool's section of the detection output.
#[derive(Debug, Default)]
struct Section {
    body: String,
    exit: Option<i64>,
}

#[derive(Debug, Default)]
struct Sections {
    tools: BTreeMap<String, Section>,
    absent: BTreeSet<String>,
}

fn split_sections(text: &str) -> Result<Sections, String> {
    let mut lines = text.lines();
    if !lines
        .by_ref()
        .any(|l| l.trim_end() == "@@fleetdeck-firewall 1")
    {
        return Err(format!(
            "the firewall detection printed no header: {}",
            excerpt(text)
        ));
    }
    let mut sections = Sections::default();
    let mut current: Option<String> = None;
    let mut ended = false;
    for line in lines {
        if let Some(tool) = line.strip_prefix("@@section ") {
            let tool = tool.trim().to_owned();
            sections.tools.insert(tool.clone(), Section::default());
            current = Some(tool);
        } else if let Some(tool) = line.strip_prefix("@@absent ") {
            sections.absent.insert(tool.trim().to_owned());
            current = None;
        } else if let Some(code) = line.strip_prefix("@@exit ") {
            if let Some(section) = current.as_ref().and_then(|t| sections.tools.get_mut(t)) {
                section.exit = code.trim().parse().ok();
            }
            current = None;
        } else if line.trim_end() == "@@end" {
            ended = true;
            break;
        } else if let Some(section) = current.as_ref().and_then(|t| sections.tools.get_mut(t)) {
            section.body.push_str(line);
            section.body.push('\n');
        }
    }
    if !ended {
        return Err("the firewall detection output was cut short (no end marker)".to_owned());
    }
    Ok(sections)
}

/// Normalizes the active firewall from `DETECT_COMMAND`'s output.
///
/// Which view is read: ufw when `ufw status` says active (its own view of its
/// rules); otherwise nftables' native tables when one filters input; otherwise
/// iptables (`iptables-save`, IPv4 and IPv6) when its INPUT chain has rules or a
/// policy other than ACCEPT; otherwise `none`. Tables that iptables-nft manages are
/// read through iptables-save: `nft -j` shows their matches only as opaque `xt`
/// expressions. A tool that failed while no other showed an active firewall makes
/// the whole detection a failure — an unreadable firewall is not an absent one.
pub fn parse_detection(
    exit: Option<u32>,
    stdout: &[u8],
    stderr: &[u8],
) -> Result<ObservedPolicy, String> {
    let text = String::from_utf8_lossy(stdout);
    let sections = split_sections(&text).map_err(|e| match exit {
        Some(0) | None => with_stderr(e, stderr),
        Some(code) => with_stderr(format!("{e} (exit {code})"), stderr),
    })?;
    let mut failures = Vec::new();
    let mut section_ok = |tool: &str| -> Option<&Section> {
        let section = sections.tools.get(tool)?;
        if section.exit == Some(0) {
            Some(section)
        } else {
            failures.push(format!(
                "{tool} failed{}: {}",
                section
                    .exit
                    .map(|c| format!(" (exit {c})"))
                    .unwrap_or_default(),
                excerpt(&section.body)
            ));
            None
        }
    };

    let ufw = section_ok("ufw").map(|s| parse_ufw(&s.body));
    let nft = section_ok("nft").map(|s| parse_nft(&s.body));
    let ipt4 = section_ok("iptables-save").map(|s| parse_iptables_save(&s.body, "IPv4"));
    let ipt6 = section_ok("ip6tables-save").map(|s| parse_iptables_save(&s.body, "IPv6"));
    // Output a tool printed but that could not be read counts as that tool failing.
    fn take<T>(r: Option<Result<T, String>>, failures: &mut Vec<String>) -> Option<T> {
        match r {
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => {
                failures.push(e);
                None
            }
            None => None,
        }
    }
    let ufw = take(ufw, &mut failures);
    let nft = take(nft, &mut failures);
    let ipt4 = take(ipt4, &mut failures);
    let ipt6 = take(ipt6, &mut failures);

    // A tool that could not be read may hold rules of its own: not knowing is shown.
    let not_read = |observed: &mut ObservedPolicy| {
        observed
            .unknown
            .extend(failures.iter().map(|f| format!("not read: {f}")));
    };
    if let Some(ufw) = &ufw
        && ufw.active
    {
        let mut observed = ufw.policy.clone();
        not_read(&mut observed);
        return Ok(observed);
    }
    let iptables = merge_iptables(ipt4, ipt6);
    // iptables-nft's tables, to leave out of the native nftables view.
    let managed: BTreeSet<(String, String)> = iptables
        .as_ref()
        .map(|i| i.nft_tables.clone())
        .unwrap_or_default();

    let native = nft.as_ref().map(|n| n.view(&managed));
    let native_filters = native.as_ref().is_some_and(|v| v.filters);
    let ipt_filters = iptables.as_ref().is_some_and(|i| i.filters);

    let mut observed = if native_filters {
        let mut observed = native.clone().map(|v| v.policy).unwrap_or_else(no_firewall);
        if ipt_filters {
            observed.unknown.push(
                "iptables also filters input (INPUT chain); its rules apply on top of \
                 nftables' and are not combined here"
                    .to_owned(),
            );
        }
        observed
    } else if let Some(ipt) = iptables.filter(|i| i.filters) {
        ipt.policy
    } else if let Some(view) = native.filter(|v| v.has_input_chain) {
        view.policy
    } else {
        if !failures.is_empty() {
            return Err(format!(
                "no firewall tool could be read: {}",
                failures.join("; ")
            ));
        }
        if sections.tools.is_empty() {
            return Err("none of nft, ufw, iptables-save is installed on the host".to_owned());
        }
        no_firewall()
    };
    not_read(&mut observed);
    Ok(observed)
}

fn no_firewall() -> ObservedPolicy {
    ObservedPolicy {
        backend: ObservedBackend::None,
        input_policy: Verdict::Accept,
        open: Vec::new(),
        unknown: Vec::new(),
        notes: vec!["no firewall filters incoming traffic".to_owned()],
    }
}

fn with_stderr(message: String, stderr: &[u8]) -> String {
    let err = excerpt(&String::from_utf8_lossy(stderr));
    if err.is_empty() {
        message
    } else {
        format!("{message}: {err}")
    }
}
