{#- The counts, rates and money of agg_referrals_monthly at the finest grain
    the dashboards filter on: created month x specialty group x referring
    practice x payer x priority. Sum the count columns over any filter and
    recompute rates from them. Kept by cell on DuckDB: a daily build of the
    1M-referral set computes again the cells of about an eighth of the
    referrals (macros/replace_cells.sql). -#}
{{ referral_aggregate(['created_month', 'specialty_group', 'referring_location_id', 'payer_id', 'priority'], kept_by_cell=true) }}
