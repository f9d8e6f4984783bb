-- What the workflow tells a customer about a match.
CREATE TABLE notifications (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id     bigint      NOT NULL REFERENCES customers (id),
  tender_match_id bigint      REFERENCES tender_matches (id),
  channel         text        NOT NULL CHECK (channel IN ('email', 'webhook')),
  subject         text        NOT NULL,
  body            text        NOT NULL,
  status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_customer_id_idx ON notifications (customer_id);
CREATE INDEX notifications_tender_match_id_idx ON notifications (tender_match_id);
