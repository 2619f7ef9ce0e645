{#- The referrals whose queue rows (int_referral_queue_actions,
    int_referral_queue_rows) a daily build computes again. A queue row
    depends on its referral's version, outcome and row in fct_referrals
    (all of which change only for the referrals in int_referral_scope), its
    events, and on T through these alone:
    1. T passed the end of its attribution window (created W days before) or
       its order's expiry, each by a day either way (the expire action);
    2. an engagement of it dated between the last build's T and this one's,
       or F days before either, entered or left the follow-up window;
    3. its referred-to provider's directory row on T says otherwise now
       (the checks of the reroute action, computed again over the stored rows);
    4. its recommended provider changed (free slots on or after T, the
       directory, the patient's zip3): the routing of the stored rows that
       need one, computed again and compared.
    days_open, the one column that moves every day, is computed in
    marts.referral_queue. Reads the queue tables as the last build left
    them (plain relations: they are built after this). Empty on a full build
    and on Spark (the queue is then computed whole); every referral when the
    last build is not recorded or a queue table is missing. The queue's log
    (int_referral_queue_log) compares only these referrals on a daily build. -#}
-- depends_on: {{ ref('int_referral_scope') }}, {{ ref('int_referrals_deduplicated') }}, {{ ref('int_engagements_deduplicated') }}, {{ ref('int_providers_on_as_of_date') }}, {{ ref('int_patients_deduplicated') }}, {{ ref('int_parameters') }}
{%- set relations = {} -%}
{%- if execute and target.type == 'duckdb' -%}
    {%- for name in ['int_referral_queue_actions', 'int_referral_queue_rows', 'int_referral_queue_routed'] -%}
        {%- do relations.update({name: adapter.get_relation(database=this.database, schema=this.schema, identifier=name)}) -%}
    {%- endfor -%}
{%- endif -%}
{%- set previous = relations | length == 3 and none not in relations.values() -%}
{%- set landed = landed_since() %}

with

referral_scope as (
    select referral_id from {{ ref('int_referral_scope') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

{% if flags.FULL_REFRESH or target.type != 'duckdb' -%}
scope as (
    select referral_id from referral_scope where 1 = 0
),
{%- elif landed is none or not previous -%}
scope as (
    select referral_id from {{ ref('int_referrals_deduplicated') }}
),
{%- else -%}
{#- Dates whose standing moved with T: after_date < d <= through_date
    (literals: macros/data_as_of_date.sql). Each condition is its own scan,
    so that DuckDB applies it there. -#}
{%- set moved = moved_dates(landed) %}
{%- set window_days = 'cast(' ~ var('attribution_window_days') ~ ' as integer)' %}
{%- set follow_up_days = 'cast(' ~ var('follow_up_after_days') ~ ' as integer)' %}
dated as (
    select referrals.referral_id
    from {{ ref('int_referrals_deduplicated') }} as referrals
    where {{ date_of_between('referrals.created_at', moved.after_date ~ ' - ' ~ window_days ~ ' - 1',
                             moved.through_date ~ ' - ' ~ window_days ~ ' + 1') }}
    union
    select referrals.referral_id
    from {{ ref('int_referrals_deduplicated') }} as referrals
    where referrals.expires_on >= {{ moved.after_date }} - 1 and referrals.expires_on <= {{ moved.through_date }} + 1
),

touched as (
    select engagements.referral_id
    from {{ ref('int_engagements_deduplicated') }} as engagements
    where {{ date_of_between('engagements.occurred_at', moved.after_date ~ ' - ' ~ follow_up_days ~ ' - 1',
                             moved.through_date ~ ' - ' ~ follow_up_days ~ ' + 1') }}
    union
    select engagements.referral_id
    from {{ ref('int_engagements_deduplicated') }} as engagements
    where {{ date_of_between('engagements.occurred_at', moved.after_date ~ ' - 1', moved.through_date ~ ' + 1') }}
),

redirected as (
    select checked.referral_id
    from (
        select
            stored.referral_id,
            {%- for column in queue_referred_to_columns() %}
            stored.{{ column }} as stored_{{ column }},
            {%- endfor %}
            {{ queue_referred_to_checks('stored', 'referred_to', 'parameters') }}
        from {{ relations['int_referral_queue_actions'] }} as stored
        cross join parameters
        left join {{ ref('int_providers_on_as_of_date') }} as referred_to
            on stored.referred_to_npi = referred_to.npi
        where stored.referred_to_npi is not null
    ) as checked
    where
        {%- for column in queue_referred_to_columns() %}
        checked.{{ column }} is distinct from checked.stored_{{ column }}{{ ' or' if not loop.last }}
        {%- endfor %}
),

rerouted as (
    select stored.referral_id
    from {{ relations['int_referral_queue_actions'] }} as stored
    inner join {{ relations['int_referral_queue_rows'] }} as stored_rows
        on stored.referral_id = stored_rows.referral_id
    left join {{ relations['int_referral_queue_routed'] }} as routed
        on stored.referral_id = routed.referral_id
    where stored.needs_recommendation
        and (routed.recommended_npi is distinct from stored_rows.recommended_npi
            or routed.recommended_next_free_slot_at is distinct from stored_rows.recommended_next_free_slot_at
            or routed.is_recommended_same_zip3 is distinct from stored_rows.is_recommended_same_zip3)
),

scope as (
    select referral_id from referral_scope
    union
    select referral_id from dated
    union
    select referral_id from touched
    union
    select referral_id from redirected
    union
    select referral_id from rerouted
),
{%- endif %}

final as (
    select distinct referral_id
    from scope
    where referral_id is not null
)

select * from final
