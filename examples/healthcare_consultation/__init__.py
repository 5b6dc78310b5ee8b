"""Healthcare consultation: a patient, a doctor and a specialist behind the MAS gateway."""
