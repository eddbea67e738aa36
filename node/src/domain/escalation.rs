//! Where an Ombudsman escalation stands, read from a report's timeline (pure). The 60-day mark or an admin
//! asks the reporter (`escalated`); the reporter agrees (`ombudsman_consented`, and the report moves to an
//! Ombudsman node by the normal transfer) or declines (`ombudsman_declined`, and it stays). A transfer
//! (`transferred`) starts a new owner's story: an escalation asked before it is no longer this owner's
//! question.

use lapor_schemas::TimelineAction;

/// The state of a report's escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escalation {
    /// Never escalated (at this owner).
    None,
    /// The reporter was asked and has not answered.
    Awaiting,
    /// The reporter agreed: the report goes (or went) to the Ombudsman.
    Consented,
    /// The reporter declined: the report stays with its owner.
    Declined,
}

impl Escalation {
    /// Stable id, as the API and pages name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Awaiting => "awaiting_consent",
            Self::Consented => "consented",
            Self::Declined => "declined",
        }
    }
}

/// The escalation state after these timeline actions, oldest first.
pub fn state(actions: impl IntoIterator<Item = TimelineAction>) -> Escalation {
    actions
        .into_iter()
        .fold(Escalation::None, |now, a| match a {
            TimelineAction::Escalated => Escalation::Awaiting,
            TimelineAction::OmbudsmanConsented => Escalation::Consented,
            TimelineAction::OmbudsmanDeclined => Escalation::Declined,
            TimelineAction::Transferred => Escalation::None,
            _ => now,
        })
}

/// The Ombudsman node that takes a report from `region_code`: among `(node id, region codes)` of the nodes
/// enrolled in the `ombudsman` role, the one serving the longest prefix of the report's region (a regional
/// office), else one serving no region in particular (the Ombudsman RI), else the first one.
pub fn pick_ombudsman<'a>(
    nodes: &'a [(String, Vec<String>)],
    region_code: Option<&str>,
) -> Option<&'a str> {
    let region = region_code.unwrap_or("");
    let served = |code: &str| {
        !code.is_empty() && (region == code || region.starts_with(&format!("{code}.")))
    };
    nodes
        .iter()
        .filter_map(|(id, codes)| {
            codes
                .iter()
                .filter(|c| served(c))
                .map(String::len)
                .max()
                .map(|len| (len, id))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, id)| id.as_str())
        .or_else(|| {
            nodes
                .iter()
                .find(|(_, codes)| codes.is_empty())
                .map(|(id, _)| id.as_str())
        })
        .or_else(|| nodes.first().map(|(id, _)| id.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use TimelineAction as A;

    #[test]
    fn state_follows_the_latest_step() {
        assert_eq!(state([A::Created, A::Verified]), Escalation::None);
        assert_eq!(state([A::Verified, A::Escalated]), Escalation::Awaiting);
        assert_eq!(
            state([A::Escalated, A::Replied, A::OmbudsmanDeclined, A::Responded]),
            Escalation::Declined
        );
        assert_eq!(
            state([A::Escalated, A::OmbudsmanConsented]),
            Escalation::Consented
        );
        // At the Ombudsman node the report starts again.
        assert_eq!(
            state([A::Escalated, A::OmbudsmanConsented, A::Transferred]),
            Escalation::None
        );
    }

    #[test]
    fn the_regional_office_serving_the_region_wins() {
        let nodes = vec![
            ("ombudsman-ri".to_owned(), vec![]),
            ("ombudsman-ntt".to_owned(), vec!["53".to_owned()]),
            ("ombudsman-kupang".to_owned(), vec!["53.71".to_owned()]),
        ];
        assert_eq!(
            pick_ombudsman(&nodes, Some("53.71.01")),
            Some("ombudsman-kupang")
        );
        assert_eq!(pick_ombudsman(&nodes, Some("53.01")), Some("ombudsman-ntt"));
        // "53" does not serve "5301".
        assert_eq!(pick_ombudsman(&nodes, Some("5301")), Some("ombudsman-ri"));
        assert_eq!(pick_ombudsman(&nodes, None), Some("ombudsman-ri"));
        assert_eq!(
            pick_ombudsman(&nodes[1..], Some("31")),
            Some("ombudsman-ntt")
        );
        assert_eq!(pick_ombudsman(&[], Some("31")), None);
    }
}
