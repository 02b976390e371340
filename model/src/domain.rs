//! Closed vocabularies of the model, stored as snake_case strings.

use std::fmt;
use std::str::FromStr;

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored snake_case name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue {
                        kind: stringify!($name),
                        expected: vec![$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}

/// A value outside a closed vocabulary.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown {kind}; expected one of: {expected}")]
pub struct UnknownValue {
    /// Which vocabulary.
    pub kind: &'static str,
    /// The accepted values.
    pub expected: String,
}

vocabulary!(
    /// What kind of organisation this is.
    OrganisationKind {
        /// A municipality (gemeente).
        Municipality = "municipality",
        /// UWV.
        Uwv = "uwv",
        /// A social firm or social work company.
        SocialFirm = "social_firm",
        /// A partner employer.
        Employer = "employer",
        /// A care provider.
        Care = "care",
        /// An education provider.
        Education = "education",
        /// The Sociaal Werkkoepel network.
        Network = "network",
    }
);

vocabulary!(
    /// What kind of placement.
    PlacementKind {
        /// Regular employment.
        Employment = "employment",
        /// Secondment (detachering).
        Secondment = "secondment",
        /// Trial placement (proefplaatsing).
        TrialPlacement = "trial_placement",
        /// Participation place (participatieplaats).
        ParticipationPlace = "participation_place",
        /// Internship.
        Internship = "internship",
        /// Sheltered work (beschut werk).
        ShelteredWork = "sheltered_work",
    }
);

vocabulary!(
    /// The social-firm line of work.
    Line {
        /// 3e lijn: a trajectory of at most two years towards a regular employer.
        Line3 = "line_3",
        /// 4e lijn: long-term adapted work.
        Line4 = "line_4",
    }
);

vocabulary!(
    /// The caller's role; decides, with the privacy class, what may be read.
    Role {
        /// Jobcoach, consultant: full records of their organisation's caseload.
        Caseworker = "caseworker",
        /// Partner employer: consenting candidates' generic profiles, own vacancies.
        Partner = "partner",
        /// The Sociaal Werkkoepel network.
        Network = "network",
        /// Dashboard tools: aggregates only.
        Dashboard = "dashboard",
        /// The data steward: sources, runs, rejected rows, audit log, tokens.
        Steward = "steward",
    }
);

/// Participation ladder step 1 (isolated) … 6 (paid work without support).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ParticipationStep(u8);

impl TryFrom<i64> for ParticipationStep {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, Self::Error> {
        if (1..=6).contains(&v) {
            Ok(Self(v as u8))
        } else {
            Err(format!("participation step must be 1 to 6, got {v}"))
        }
    }
}

impl ParticipationStep {
    /// The step's number.
    pub fn get(self) -> u8 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_round_trips_and_explains() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), *r);
        }
        let err = "boss".parse::<Role>().unwrap_err().to_string();
        assert!(
            err.contains("caseworker, partner, network, dashboard, steward"),
            "{err}"
        );
        assert!(ParticipationStep::try_from(7).is_err());
        assert_eq!(ParticipationStep::try_from(3).unwrap().get(), 3);
    }
}
