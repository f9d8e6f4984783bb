-- Public tenders as fetched from the tender source API.
CREATE TABLE tenders (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  external_id  text          NOT NULL UNIQUE,
  title        text          NOT NULL,
  description  text          NOT NULL DEFAULT '',
  buyer        text          NOT NULL,
  cpv_codes    text[]        NOT NULL DEFAULT '{}',
  region       text,
  value_eur    numeric(14,2),
  published_at timestamptz   NOT NULL,
  deadline_at  timestamptz,
  created_at   timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX tenders_published_at_idx ON tenders (published_at);
