{#- Outreach per referral: all its engagements (reminders included), also
    those dated before the referral was created. Each engagement's cost
    (cost_amount, else the configured cost of its channel) comes from
    int_engagements_sequenced, the one place that rule is written
    (macros/referral_summaries.sql, which marts.fct_referrals also uses). -#}
{{ config(materialized='view') }}
{{ referral_engagements_summary() }}
