{#- Three per-referral facts marts.fct_referrals joins, each rule written
    once: the views int_referral_engagements_summarized,
    int_referral_reports_received and int_referral_duplicates_flagged select
    them for every referral, and fct_referrals with `scoped` for the
    referrals a daily build computes again (int_referral_scope). The scope
    filter sits before the grouping and the self-join: put on a view's
    result, DuckDB computes the view for every referral and filters after
    (a semi-join is not moved below an aggregate or a join), which made these
    grow with the history. -#}

{#- Outreach per referral: count, cost and first contact of all its
    engagements (reminders included, also those dated before the referral).
    Each engagement's cost comes from int_engagements_sequenced. -#}
{% macro referral_engagements_summary(scoped=false) -%}
    select
        referral_id,
        count(*) as engagement_count,
        sum(engagement_cost) as engagement_cost,
        min(occurred_at) as first_contact_at
    from {{ ref('int_engagements_sequenced') }}
    {%- if scoped %}
    {{ in_scope('referral_id', 'int_referral_scope') }}
    {%- endif %}
    group by referral_id
{%- endmacro %}


{#- The first consult report received for each referral (closes the loop). -#}
{% macro referral_reports_received(scoped=false) -%}
    select
        referral_id,
        min(occurred_at) as report_received_at
    from {{ ref('int_referral_events_deduplicated') }}
    where event_type = 'consult_report_received'
    {%- if scoped %}
        {{ in_scope('referral_id', 'int_referral_scope', connector='and') }}
    {%- endif %}
    group by referral_id
{%- endmacro %}


{#- Referrals that duplicate an earlier one: another eligible referral of the
    same patient and specialty group has a strictly earlier created_at and a
    created_date at most `duplicate_window_days` days before this one's. -#}
{% macro referral_duplicates(scoped=false) -%}
    select distinct later.referral_id
    from (
        select * from {{ ref('int_referrals_eligible') }}
        {%- if scoped %}
        {{ in_scope('referral_id', 'int_referral_scope') }}
        {%- endif %}
    ) as later
    inner join {{ ref('int_referrals_eligible') }} as earlier
        on later.patient_id = earlier.patient_id
        and later.specialty_group = earlier.specialty_group
        and earlier.created_at < later.created_at
        and {{ days_between('earlier.created_date', 'later.created_date') }} <= {{ var('duplicate_window_days') }}
{%- endmacro %}
