//! What the agents' side reports (see `crate::events`): when each agent was last heard from,
//! so alerting can tell one that went silent (`panoptes: {event: agent_silent}`).

#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    /// The agent was heard from at `at_ms`: it fetched its assignments or its results were
    /// stored. At start, each known agent is reported once with the last time it was heard
    /// from (its creation if never), so a restart does not forget an agent already silent.
    Seen {
        name: String,
        location: String,
        at_ms: u64,
    },
    /// The agent was revoked: it is no longer expected to report.
    Revoked { name: String },
}
