-- A tender that matched an alert profile, with the LLM's short summary.
CREATE TABLE tender_matches (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  alert_profile_id bigint       NOT NULL REFERENCES alert_profiles (id),
  tender_id        bigint       NOT NULL REFERENCES tenders (id),
  score            numeric(5,4) NOT NULL CHECK (score >= 0 AND score <= 1),
  summary          text,
  matched_at       timestamptz  NOT NULL DEFAULT now(),
  UNIQUE (alert_profile_id, tender_id)
);
CREATE INDEX tender_matches_tender_id_idx ON tender_matches (tender_id);
