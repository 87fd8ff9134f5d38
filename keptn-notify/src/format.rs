//! Slack and Microsoft Teams payloads for a [`Message`].
//!
//! # Slack (incoming webhook)
//!
//! `POST` of `{"text": <title>, "blocks": [...]}`; `text` is the notification fallback. Blocks
//! used, within Slack's documented limits (longer text is cut with `…`):
//! `header` (`plain_text`, ≤ 150 characters), `section` with `mrkdwn` text (≤ 3000) for the event
//! message and for the failing objectives, `section` with `fields` (≤ 10 fields of ≤ 2000
//! characters: `*Name*\nvalue`), `context` (the event type), and `actions` with one `button`
//! (`url`) when a report link is configured.
//!
//! # Microsoft Teams
//!
//! * [`ChatFormat::TeamsMessageCard`] — the connector (Office 365 "Incoming Webhook") format:
//!   `{"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary", "title",
//!   "themeColor", "text"?, "sections": [{"facts": [{"name", "value"}], "text"?}],
//!   "potentialAction": [{"@type": "OpenUri", "name", "targets": [{"os": "default", "uri"}]}]?}`.
//!   Teams requires `summary` or `text`; we always send `summary`.
//! * [`ChatFormat::TeamsAdaptiveCard`] — for Teams *Workflows* webhooks ("Send webhook alerts to a
//!   channel"): `{"type": "message", "attachments": [{"contentType":
//!   "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": {"$schema":
//!   "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version":
//!   "1.4", "body": [TextBlock title, TextBlock text?, FactSet, TextBlock objectives?],
//!   "actions": [{"type": "Action.OpenUrl", "title", "url"}]?}}]}`.

use serde_json::{Value, json};

use crate::message::{Message, Outcome};

/// The chat payload formats this crate produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChatFormat {
    /// Slack incoming-webhook JSON with Block Kit blocks.
    Slack,
    /// Microsoft Teams connector MessageCard.
    TeamsMessageCard,
    /// Microsoft Teams Workflows webhook: a message with an Adaptive Card attachment.
    TeamsAdaptiveCard,
}

impl ChatFormat {
    /// The JSON body for `message` in this format.
    pub fn payload(self, message: &Message) -> Value {
        match self {
            ChatFormat::Slack => slack(message),
            ChatFormat::TeamsMessageCard => message_card(message),
            ChatFormat::TeamsAdaptiveCard => adaptive_card(message),
        }
    }

    /// The Teams format for a webhook URL: connector URLs (`*.webhook.office.com`,
    /// `outlook.office.com/webhook…`) get the MessageCard, every other URL (Workflows:
    /// `*.logic.azure.com`, `*.powerplatform.com`, `*.powerautomate.com`, …) the Adaptive Card.
    pub fn teams_for_url(url: &str) -> ChatFormat {
        let host = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', '?', '#']).next())
            .unwrap_or("")
            .rsplit('@')
            .next()
            .unwrap_or("")
            .split(':')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if host.ends_with("webhook.office.com") || host == "outlook.office.com" {
            ChatFormat::TeamsMessageCard
        } else {
            ChatFormat::TeamsAdaptiveCard
        }
    }
}

fn emoji(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Info => ":information_source:",
        Outcome::Success => ":white_check_mark:",
        Outcome::Warning => ":warning:",
        Outcome::Failure => ":x:",
    }
}

/// Cuts `s` to at most `max` characters, ending with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn slack(m: &Message) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": cut(&format!("{} {}", emoji(m.outcome), m.title), 150), "emoji": true}
    })];
    if let Some(text) = &m.text {
        blocks
            .push(json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(text, 3000)}}));
    }
    if !m.facts.is_empty() {
        let fields: Vec<Value> = m
            .facts
            .iter()
            .take(10)
            .map(|f| json!({"type": "mrkdwn", "text": cut(&format!("*{}*\n{}", f.name, f.value), 2000)}))
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if !m.objectives.is_empty() {
        let lines: Vec<String> = m.objectives.iter().map(|o| format!("• {o}")).collect();
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": cut(&format!("*Failing objectives*\n{}", lines.join("\n")), 3000)}}));
    }
    blocks.push(json!({"type": "context", "elements": [
        {"type": "mrkdwn", "text": cut(&format!("Keptn event `{}`", m.event_type), 3000)}
    ]}));
    if let Some(link) = &m.link {
        blocks.push(json!({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open report"}, "url": cut(link, 3000)}
        ]}));
    }
    json!({"text": m.title, "blocks": blocks})
}

fn theme_color(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Info => "0078D7",
        Outcome::Success => "2DC72D",
        Outcome::Warning => "FFB900",
        Outcome::Failure => "D13438",
    }
}

fn message_card(m: &Message) -> Value {
    let facts: Vec<Value> = m
        .facts
        .iter()
        .map(|f| json!({"name": f.name, "value": f.value}))
        .collect();
    let mut section = json!({"facts": facts});
    if !m.objectives.is_empty() {
        let lines: Vec<String> = m.objectives.iter().map(|o| format!("- {o}")).collect();
        section["text"] = json!(format!("**Failing objectives**\n\n{}", lines.join("\n")));
    }
    let mut card = json!({
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": m.title,
        "title": m.title,
        "themeColor": theme_color(m.outcome),
        "sections": [section],
    });
    if let Some(text) = &m.text {
        card["text"] = json!(text);
    }
    if let Some(link) = &m.link {
        card["potentialAction"] = json!([{
            "@type": "OpenUri", "name": "Open report",
            "targets": [{"os": "default", "uri": link}]
        }]);
    }
    card
}

fn adaptive_color(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Info => "Accent",
        Outcome::Success => "Good",
        Outcome::Warning => "Warning",
        Outcome::Failure => "Attention",
    }
}

fn adaptive_card(m: &Message) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock", "text": m.title, "weight": "Bolder", "size": "Medium",
        "color": adaptive_color(m.outcome), "wrap": true
    })];
    if let Some(text) = &m.text {
        body.push(json!({"type": "TextBlock", "text": text, "wrap": true}));
    }
    let facts: Vec<Value> = m
        .facts
        .iter()
        .map(|f| json!({"title": f.name, "value": f.value}))
        .collect();
    body.push(json!({"type": "FactSet", "facts": facts}));
    if !m.objectives.is_empty() {
        let lines: Vec<String> = m.objectives.iter().map(|o| format!("- {o}")).collect();
        body.push(json!({"type": "TextBlock", "text": "Failing objectives", "weight": "Bolder", "wrap": true}));
        body.push(json!({"type": "TextBlock", "text": lines.join("\n"), "wrap": true}));
    }
    let mut content = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    if let Some(link) = &m.link {
        content["actions"] =
            json!([{"type": "Action.OpenUrl", "title": "Open report", "url": link}]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": content,
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Fact, MessageKind};

    fn message() -> Message {
        Message {
            kind: MessageKind::EvaluationFinished,
            outcome: Outcome::Failure,
            title: "Evaluation of carts in staging: fail (score 50)".into(),
            text: Some("response time too high".into()),
            facts: vec![Fact {
                name: "Project".into(),
                value: "sockshop".into(),
            }],
            objectives: vec!["response_time_p95 = 1043: fail (violated <600)".into()],
            link: Some("https://bridge.example/sockshop".into()),
            event_type: "sh.keptn.event.evaluation.finished".into(),
        }
    }

    /// The exact Slack payload shape.
    #[test]
    fn slack_shape() {
        let v = ChatFormat::Slack.payload(&message());
        assert_eq!(
            v,
            json!({"text": "Evaluation of carts in staging: fail (score 50)", "blocks": [
                {"type": "header", "text": {"type": "plain_text", "emoji": true,
                    "text": ":x: Evaluation of carts in staging: fail (score 50)"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": "response time too high"}},
                {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Project*\nsockshop"}]},
                {"type": "section", "text": {"type": "mrkdwn",
                    "text": "*Failing objectives*\n• response_time_p95 = 1043: fail (violated <600)"}},
                {"type": "context", "elements": [{"type": "mrkdwn",
                    "text": "Keptn event `sh.keptn.event.evaluation.finished`"}]},
                {"type": "actions", "elements": [{"type": "button",
                    "text": {"type": "plain_text", "text": "Open report"},
                    "url": "https://bridge.example/sockshop"}]}
            ]})
        );
    }

    /// Slack limits: header ≤ 150 characters, at most 10 fields.
    #[test]
    fn slack_limits() {
        let mut m = message();
        m.title = "x".repeat(400);
        m.facts = (0..14)
            .map(|i| Fact {
                name: format!("f{i}"),
                value: "v".into(),
            })
            .collect();
        let v = ChatFormat::Slack.payload(&m);
        let header = v["blocks"][0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), 150);
        assert!(header.ends_with('…'));
        assert_eq!(v["blocks"][2]["fields"].as_array().unwrap().len(), 10);
    }

    /// The exact MessageCard shape.
    #[test]
    fn message_card_shape() {
        let v = ChatFormat::TeamsMessageCard.payload(&message());
        assert_eq!(
            v,
            json!({
                "@type": "MessageCard", "@context": "https://schema.org/extensions",
                "summary": "Evaluation of carts in staging: fail (score 50)",
                "title": "Evaluation of carts in staging: fail (score 50)",
                "themeColor": "D13438",
                "text": "response time too high",
                "sections": [{"facts": [{"name": "Project", "value": "sockshop"}],
                    "text": "**Failing objectives**\n\n- response_time_p95 = 1043: fail (violated <600)"}],
                "potentialAction": [{"@type": "OpenUri", "name": "Open report",
                    "targets": [{"os": "default", "uri": "https://bridge.example/sockshop"}]}]
            })
        );
    }

    /// The exact Adaptive Card (Workflows) shape.
    #[test]
    fn adaptive_card_shape() {
        let v = ChatFormat::TeamsAdaptiveCard.payload(&message());
        assert_eq!(
            v,
            json!({"type": "message", "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard", "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": "Evaluation of carts in staging: fail (score 50)",
                     "weight": "Bolder", "size": "Medium", "color": "Attention", "wrap": true},
                    {"type": "TextBlock", "text": "response time too high", "wrap": true},
                    {"type": "FactSet", "facts": [{"title": "Project", "value": "sockshop"}]},
                    {"type": "TextBlock", "text": "Failing objectives", "weight": "Bolder", "wrap": true},
                    {"type": "TextBlock", "text": "- response_time_p95 = 1043: fail (violated <600)", "wrap": true}
                ],
                "actions": [{"type": "Action.OpenUrl", "title": "Open report",
                             "url": "https://bridge.example/sockshop"}]
            }}]})
        );
    }

    /// Connector URLs get MessageCards, Workflows URLs Adaptive Cards.
    #[test]
    fn teams_format_by_url() {
        assert_eq!(
            ChatFormat::teams_for_url("https://contoso.webhook.office.com/webhookb2/abc"),
            ChatFormat::TeamsMessageCard
        );
        assert_eq!(
            ChatFormat::teams_for_url("https://outlook.office.com/webhook/abc"),
            ChatFormat::TeamsMessageCard
        );
        assert_eq!(
            ChatFormat::teams_for_url(
                "https://prod-01.westus.logic.azure.com:443/workflows/abc/triggers/manual"
            ),
            ChatFormat::TeamsAdaptiveCard
        );
        assert_eq!(
            ChatFormat::teams_for_url("http://127.0.0.1:8080/teams"),
            ChatFormat::TeamsAdaptiveCard
        );
    }
}
