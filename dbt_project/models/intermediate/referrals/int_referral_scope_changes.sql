{#- The referrals whose per-referral rows (evidence summary, outcome,
    marts.fct_referrals) a daily build computes again, as far as can be told
    before attribution is replaced; int_referral_scope adds the referrals the
    new attribution names. A referral's row depends on its own version, its
    patient's other eligible referrals (the duplicate flag), its attributed
    evidence and T, its engagements, its events and the entities present. So
    it is in scope when:
    1. a new version of it landed; or of another referral of its patient (the
       patient before and after: every version's), or T passed the created
       date of one (it became eligible);
    2. T passed its created date, or the end of its attribution window or
       its order's expiry (by a day either way) while its outcome was
       unscheduled (the last build's outcomes);
    3. evidence attributed to it before this build is dated between the last
       build's T and this one's, both included (upcoming is on or after T,
       counted by T on or before it). (Evidence whose attribution changed:
       int_referral_scope compares the attribution before and after);
    4. an engagement or event of it has a new version (its referral before and
       after: every version's);
    5. every referral, when an entity's first file landed (a has_* parameter
       turned true).
    Reads the attributed table and the outcomes as the last build left them
    (plain relations: they are built after this). Empty on a full build and on Spark
    (the per-referral models are then computed whole); every referral when
    the last build is not recorded. -#}
-- depends_on: {{ ref('stg_extracts__referrals') }}, {{ ref('stg_extracts__engagements') }}, {{ ref('stg_extracts__referral_events') }}, {{ ref('stg_extracts__files') }}, {{ ref('stg_extracts__appointments') }}, {{ ref('stg_extracts__claims') }}
{%- set previous = adapter.get_relation(database=this.database, schema=this.schema,
                                        identifier='int_care_evidence_attributed') if execute else none -%}
{%- set outcomes_before = adapter.get_relation(database=this.database, schema=this.schema,
                                               identifier='int_referral_outcomes_assigned') if execute else none -%}
{%- set landed = landed_since() %}

with

referrals as (
    select * from {{ ref('int_referrals_deduplicated') }}
),

engagements as (
    select * from {{ ref('int_engagements_deduplicated') }}
),

events as (
    select * from {{ ref('int_referral_events_deduplicated') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

{% if previous is none or target.type != 'duckdb' or flags.FULL_REFRESH -%}
scope as (
    select referral_id from referrals where 1 = 0
),
{%- elif landed is none -%}
scope as (
    select referral_id from referrals
),
{%- else -%}
{#- The referrals and attributed tables are read where they are used, not
    through the CTEs above: a CTE used more than once is materialized whole
    before any filter applies. (The CTEs stay: their refs declare this
    model's dependencies when dbt parses it, with this branch not rendered.) -#}
{#- Dates whose standing moved with T: after_date < d <= through_date
    (literals: macros/data_as_of_date.sql). -#}
{%- set moved = moved_dates(landed) %}
{%- set window_days = 'cast(' ~ var('attribution_window_days') ~ ' as integer)' %}

changed_referrals as (
    select referral_id
    from {{ ref('int_referrals_deduplicated') }} as referrals
    where loaded_at > {{ landed }}
),

{#- T passed a created date, the end of an attribution window (created
    W days before) or an expiry, each by a day either way. The window and
    the expiry decide only between unscheduled_open and unscheduled_expired
    (int_referral_outcomes_assigned): a referral whose outcome the last build
    left was another is in scope for them only if its evidence or its
    version changed, which rule 1 and int_referral_scope (the attribution
    before and after) find. -#}
{%- set became_eligible = date_of_between('referrals.created_at', moved.after_date ~ ' + 1', moved.through_date) %}
dated_referrals as (
    select distinct referral_id, patient_id, became_eligible
    from (
        {%- for condition in [
            became_eligible,
            date_of_between('referrals.created_at', moved.after_date ~ ' - ' ~ window_days ~ ' - 1',
                            moved.through_date ~ ' - ' ~ window_days ~ ' + 1'),
            '(referrals.expires_on >= ' ~ moved.after_date ~ ' - 1 and referrals.expires_on <= ' ~ moved.through_date ~ ' + 1)',
        ] %}
        select
            referrals.referral_id,
            referrals.patient_id,
            {{ became_eligible }} as became_eligible
        from {{ ref('int_referrals_deduplicated') }} as referrals
        where {{ condition }}
        {{ 'union all' if not loop.last }}
        {%- endfor %}
    ) as dated
),

{#- (`not exists`, correlated on the few dated referrals: faster here than a
    `not in` or a left join over every referral's outcome) -#}
dated_in_scope as (
    select dated_referrals.referral_id
    from dated_referrals
    {%- if outcomes_before is not none %}
    where dated_referrals.became_eligible
        or not exists (
            select 1
            from {{ outcomes_before }} as outcomes_before
            where outcomes_before.referral_id = dated_referrals.referral_id
                and outcomes_before.outcome not in ('unscheduled_open', 'unscheduled_expired')
        )
    {%- endif %}
),

changed_patients as (
    select patient_id
    from {{ ref('stg_extracts__referrals') }}
    where referral_id in (select referral_id from changed_referrals)
    union
    select patient_id from dated_referrals where became_eligible
),

evidence_referrals as (
    select previous.attributed_referral_id as referral_id
    from {{ previous }} as previous
    where previous.evidence_date >= {{ moved.after_date }} and previous.evidence_date <= {{ moved.through_date }}
),

outreach_referrals as (
    select referral_id
    from {{ ref('stg_extracts__engagements') }}
    where engagement_id in (select engagement_id from {{ ref('int_engagements_deduplicated') }} where loaded_at > {{ landed }})
    union
    select referral_id
    from {{ ref('stg_extracts__referral_events') }}
    where event_id in (select event_id from {{ ref('int_referral_events_deduplicated') }} where loaded_at > {{ landed }})
),

first_files as (
    select entity
    from {{ ref('stg_extracts__files') }}
    where file_status = 'loaded'
    group by entity
    having min(loaded_at) > {{ landed }}
),

scope as (
    select referral_id from changed_referrals
    union
    select referral_id from dated_in_scope
    union
    select referrals.referral_id from {{ ref('int_referrals_deduplicated') }} as referrals where patient_id in (select patient_id from changed_patients)
    union
    select referral_id from evidence_referrals
    union
    select referral_id from outreach_referrals
    union
    select referrals.referral_id from {{ ref('int_referrals_deduplicated') }} as referrals where exists (select 1 from first_files)
),
{%- endif %}

final as (
    select distinct referral_id
    from scope
    where referral_id is not null
)

select * from final
