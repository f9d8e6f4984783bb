-- What a customer wants to hear about: keywords, CPV codes, regions and a minimum contract value.
CREATE TABLE alert_profiles (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id   bigint        NOT NULL REFERENCES customers (id),
  name          text          NOT NULL,
  keywords      text[]        NOT NULL DEFAULT '{}',
  cpv_codes     text[]        NOT NULL DEFAULT '{}',
  regions       text[]        NOT NULL DEFAULT '{}',
  min_value_eur numeric(14,2),
  active        boolean       NOT NULL DEFAULT true,
  created_at    timestamptz   NOT NULL DEFAULT now(),
  UNIQUE (customer_id, name)
);
CREATE INDEX alert_profiles_customer_id_idx ON alert_profiles (customer_id);
