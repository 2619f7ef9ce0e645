{#- The first consult report received for each referral (closes the loop;
    macros/referral_summaries.sql, which marts.fct_referrals also uses). -#}
{{ config(materialized='view') }}
{{ referral_reports_received() }}
