//! `recon board [URL]`: the operator's view of the fleet, from the master's HTTP API
//! (`GET /api/v1/fleet`, every second). On the master's tty1 it runs against the master itself
//! (the URL the agent wrote to `/run/recon/master.url`); from any other machine, against
//! `http://MASTER`.
//!
//! Two forms. On a terminal that can address the screen (a VGA console's 80x25, a serial line
//! with a vt100 or better), a full-screen board (ratatui on crossterm): counts per state, one line
//! per node (where it is, the first missing step, how long since its last event), errors, and
//! the log. Where the terminal cannot do more (not a terminal, `TERM=dumb` or unset), a line per
//! change: each node's status when it changes and each new log line, so a serial log or a pipe
//! reads as a story.
//!
//! Keys (full form): `f` finish (asks first: stop DHCP, write the reports, unmount RECONDATA,
//! power off), `q` quit, arrows and PgUp/PgDn scroll the nodes, Ctrl-L paints the screen again
//! (it is also painted whole every 15 s: a VGA console gets the kernel's messages too).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Context;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::report::table;
use crate::runtime::http_client;
use crate::serve::fleet::FleetView;

/// Where the agent says its master serves, for a board on the same machine.
pub const MASTER_URL_FILE: &str = "/run/recon/master.url";

/// The agent's progress on this machine, a line per event (the board shows it on a peer).
pub const AGENT_STATUS_FILE: &str = "/run/recon/agent.status";

/// The last `n` lines of the agent's status on this machine.
fn agent_status(n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(AGENT_STATUS_FILE).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].iter().map(|l| (*l).to_owned()).collect()
}

/// Which form to draw in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Full screen.
    Full,
    /// A line per change.
    Lines,
}

/// The full form where stdout is a terminal that is not `dumb`.
pub fn form_for_terminal() -> Form {
    let term = std::env::var("TERM").unwrap_or_default();
    if std::io::stdout().is_terminal() && !term.is_empty() && term != "dumb" { Form::Full } else { Form::Lines }
}

/// The master's URL: given, else what the agent wrote, else `None` (not yet serving).
pub fn master_url(given: Option<&str>) -> Option<String> {
    if let Some(u) = given {
        return Some(u.trim_end_matches('/').to_owned());
    }
    std::fs::read_to_string(MASTER_URL_FILE)
        .ok()
        .map(|s| s.trim().trim_end_matches('/').to_owned())
        .filter(|s| !s.is_empty())
}

fn get_view(url: &str) -> anyhow::Result<FleetView> {
    let r =
        smol::block_on(http_client::request("GET", &format!("{url}/api/v1/fleet"), &[], &[], Duration::from_secs(5)))
            .with_context(|| url.to_owned())?;
    anyhow::ensure!(r.status == 200, "{url}/api/v1/fleet: HTTP {}", r.status);
    serde_json::from_slice(&r.body).context("the master's fleet view")
}

/// Asks the master to finish; what it answered.
pub fn finish(url: &str) -> anyhow::Result<String> {
    let r = smol::block_on(http_client::request(
        "POST",
        &format!("{url}/api/v1/finish"),
        &[],
        &[],
        Duration::from_secs(120),
    ))
    .with_context(|| url.to_owned())?;
    let text = String::from_utf8_lossy(&r.body).into_owned();
    anyhow::ensure!(r.status == 200, "HTTP {}: {}", r.status, text.trim());
    Ok(text)
}

/// Runs the board until `q` (full form) or forever (line form).
pub fn run(given: Option<&str>, form: Form) -> anyhow::Result<()> {
    match form {
        Form::Lines => lines(given),
        Form::Full => full(given),
    }
}

//--- The line form

fn lines(given: Option<&str>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut said: BTreeMap<String, String> = BTreeMap::new();
    let mut last_log = 0u64;
    let mut waiting_said = false;
    let mut status_said = 0usize;
    let mut last_counts = String::new();
    loop {
        let Some(url) = master_url(given) else {
            // Not a master (yet): a peer shows its own agent's progress.
            let status = agent_status(usize::MAX);
            for l in status.iter().skip(status_said) {
                writeln!(out, "agent: {l}")?;
            }
            status_said = status_said.max(status.len());
            if !waiting_said && status.is_empty() {
                writeln!(out, "board: waiting for the agent ({AGENT_STATUS_FILE}) or a master ({MASTER_URL_FILE})")?;
                waiting_said = true;
            }
            out.flush()?;
            std::thread::sleep(Duration::from_secs(1));
            continue;
        };
        match get_view(&url) {
            Ok(v) => {
                for (t, a) in &v.alerts {
                    if said.insert(format!("alert {t} {a}"), String::new()).is_none() {
                        writeln!(out, "ALERT {a}")?;
                    }
                }
                for n in &v.nodes {
                    let key = n.mac.to_string();
                    let now = format!("{} {}", table::name(n), n.status);
                    // "stuck for N s" changes every second: say it once per minute.
                    let show = said
                        .get(&key)
                        .is_none_or(|was| *was != now && !(was.contains("stuck") && now.contains("stuck")));
                    if show {
                        writeln!(out, "{}", table::line(n, v.now, 200))?;
                        said.insert(key, now);
                    }
                }
                for l in v.log.iter().filter(|l| l.t > last_log) {
                    writeln!(out, "  {} {} {}", crate::serve::time::utc_datetime(l.t / 1000, None), l.mac, l.what)?;
                }
                last_log = v.log.last().map_or(last_log, |l| l.t.max(last_log));
                let c = table::counts(&v);
                if c != last_counts {
                    writeln!(out, "{c}")?;
                    last_counts = c;
                }
            }
            Err(e) => writeln!(out, "board: {e:#}")?,
        }
        out.flush()?;
        std::thread::sleep(Duration::from_secs(1));
    }
}

//--- The full form

struct Screen {
    url: Option<String>,
    view: Option<FleetView>,
    error: Option<String>,
    scroll: usize,
    asking: bool,
    finished: Option<String>,
}

/// How often the full board paints the whole screen (and at once on Ctrl-L).
const REPAINT: Duration = Duration::from_secs(15);

fn full(given: Option<&str>) -> anyhow::Result<()> {
    use crossterm::event::{self, Event, KeyCode, KeyEventKind};
    let mut terminal = ratatui::init();
    let mut s = Screen { url: master_url(given), view: None, error: None, scroll: 0, asking: false, finished: None };
    // None until the first fetch (an Instant in the past could underflow just after boot).
    let mut fetched: Option<Instant> = None;
    let (mut repainted, mut repaint_now) = (Instant::now(), false);
    let result = (|| -> anyhow::Result<()> {
        loop {
            // ratatui redraws only what changed; whatever else wrote to this terminal (the
            // kernel on a VGA console) stays until the whole screen is painted again.
            if repaint_now || repainted.elapsed() >= REPAINT {
                terminal.clear()?;
                (repainted, repaint_now) = (Instant::now(), false);
            }
            if fetched.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                s.url = s.url.take().or_else(|| master_url(given));
                if let Some(u) = &s.url {
                    match get_view(u) {
                        Ok(v) => {
                            s.view = Some(v);
                            s.error = None;
                        }
                        Err(e) => s.error = Some(format!("{e:#}")),
                    }
                }
                fetched = Some(Instant::now());
            }
            terminal.draw(|f| draw(f, &s))?;
            if !event::poll(Duration::from_millis(250))? {
                continue;
            }
            let Event::Key(k) = event::read()? else { continue };
            if k.kind != KeyEventKind::Press {
                continue;
            }
            match (k.code, s.asking) {
                (KeyCode::Char('y' | 'Y'), true) => {
                    s.asking = false;
                    if let Some(u) = &s.url {
                        s.finished = Some(match finish(u) {
                            Ok(t) => t,
                            Err(e) => format!("finish failed: {e:#}"),
                        });
                    }
                }
                (_, true) => s.asking = false,
                (KeyCode::Char('q' | 'Q'), false) => return Ok(()),
                (KeyCode::Char('l'), false) if k.modifiers.contains(event::KeyModifiers::CONTROL) => {
                    repaint_now = true;
                }
                (KeyCode::Char('f' | 'F'), false) if s.finished.is_none() => s.asking = true,
                (KeyCode::Down | KeyCode::Char('j'), false) => s.scroll += 1,
                (KeyCode::Up | KeyCode::Char('k'), false) => s.scroll = s.scroll.saturating_sub(1),
                (KeyCode::PageDown, false) => s.scroll += 10,
                (KeyCode::PageUp, false) => s.scroll = s.scroll.saturating_sub(10),
                _ => {}
            }
        }
    })();
    ratatui::restore();
    result
}

fn draw(f: &mut ratatui::Frame<'_>, s: &Screen) {
    let area = f.area();
    let log_rows = if area.height >= 20 { 6 } else { 3 };
    let w = usize::from(area.width);
    // Alerts (nothing kept, DHCP stopped) above everything, wrapped, at most a third of the screen.
    let alerts: Vec<String> =
        s.view.as_ref().map(|v| v.alerts.iter().map(|(_, a)| a.clone()).collect()).unwrap_or_default();
    let alert_rows = alerts.iter().map(|a| a.chars().count().div_ceil(w.max(1))).sum::<usize>();
    let alert_rows = u16::try_from(alert_rows).unwrap_or(u16::MAX).min(area.height / 3);
    let [top, warn, nodes, log] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(alert_rows),
        Constraint::Min(3),
        Constraint::Length(log_rows + 1),
    ])
    .areas(area);
    if alert_rows > 0 {
        let style = Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED);
        let lines: Vec<Line<'_>> = alerts.into_iter().map(|a| Line::styled(a, style)).collect();
        f.render_widget(Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: true }), warn);
    }
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let Some(v) = &s.view else {
        let msg = match (&s.url, &s.error) {
            (None, _) => {
                // Not a master: this node's own agent, as it goes.
                let mut lines = vec![Line::styled("recon: this node's agent (a peer reports to its master)", bold)];
                let status = agent_status(usize::from(area.height.saturating_sub(2)));
                if status.is_empty() {
                    lines.push(Line::raw("waiting for the agent to start"));
                }
                lines.extend(status.into_iter().map(|l| Line::raw(table::cut(&l, w))));
                f.render_widget(Paragraph::new(lines), area);
                return;
            }
            (Some(u), Some(e)) => format!("recon: {u}: {e}"),
            (Some(u), None) => format!("recon: asking {u}"),
        };
        f.render_widget(Paragraph::new(msg), area);
        return;
    };
    let title = format!("recon {}  {}", s.url.as_deref().unwrap_or(""), table::counts(v));
    let keys = if s.finished.is_some() { "q quit".to_owned() } else { "f finish  q quit  arrows scroll".to_owned() };
    f.render_widget(
        Paragraph::new(vec![Line::styled(table::cut(&title, w), bold), Line::raw(table::cut(&keys, w))]),
        top,
    );
    let rows = usize::from(nodes.height.saturating_sub(1));
    let first = s.scroll.min(v.nodes.len().saturating_sub(rows.max(1)));
    let mut body = vec![Line::styled(table::cut(&table::header(), w), bold)];
    for n in v.nodes.iter().skip(first).take(rows) {
        let style = match n.state.as_str() {
            "stuck" => Style::default().add_modifier(Modifier::REVERSED),
            "done" => Style::default().add_modifier(Modifier::DIM),
            _ => Style::default(),
        };
        body.push(Line::styled(table::line(n, v.now, w), style));
        if let Some(e) = n.errors.last()
            && n.end.is_none()
        {
            body.push(Line::raw(table::cut(&format!("  ! {e}"), w)));
        }
    }
    f.render_widget(Paragraph::new(body), nodes);
    let mut text: Vec<Line<'_>> = v
        .log
        .iter()
        .rev()
        .take(usize::from(log_rows))
        .rev()
        .map(|l| {
            let t = crate::serve::time::utc_datetime(l.t / 1000, None);
            Line::raw(table::cut(&format!("{} {} {}", t.get(11..).unwrap_or(&t), l.mac, l.what), w))
        })
        .collect();
    if let Some(msg) = &s.finished {
        text = msg.lines().map(|l| Line::styled(table::cut(l, w), bold)).collect();
    } else if s.asking {
        text = vec![
            Line::styled("Finish? DHCP stops, the reports are written, RECONDATA is unmounted", bold),
            Line::styled("and this master powers off. Press y to finish, any other key to go on.", bold),
        ];
    }
    f.render_widget(Paragraph::new(text).block(Block::default().borders(Borders::TOP).title(" log ")), log);
}
