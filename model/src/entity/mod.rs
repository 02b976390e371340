//! sea-orm entities of the unified model, one module per table.

pub mod api_token;
pub mod audit_event;
pub mod candidate_profile;
pub mod consent;
pub mod import_run;
pub mod introduction;
pub mod introduction_event;
pub mod organisation;
pub mod person;
pub mod person_identity;
pub mod placement;
pub mod rejected_row;
pub mod sensitive_detail;
pub mod source;
pub mod source_record;
pub mod vacancy;
