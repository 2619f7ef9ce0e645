{#- Referrals that duplicate an earlier one: another eligible referral of the
    same patient and specialty group has a strictly earlier created_at and a
    created_date at most `duplicate_window_days` days before this one's
    (macros/referral_summaries.sql, which marts.fct_referrals also uses). -#}
{{ config(materialized='view') }}
{{ referral_duplicates() }}
