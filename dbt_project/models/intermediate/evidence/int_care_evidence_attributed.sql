{#- Which eligible referral each piece of care evidence belongs to
    (docs/metrics.md, Attribution):
    1. explicit: it carries the referral_id of an eligible referral, whatever
       its specialty or date. A referral_id naming no eligible referral
       attributes it to nothing (it is not matched either);
    2. matched: otherwise (no referral_id), among eligible referrals of the
       same patient and specialty group with created_date <= d <= created_date
       + W, the latest created_at; tie: the greatest referral_id;
    3. otherwise no referral.

    Kept incrementally on DuckDB: a daily build attributes again the evidence
    of the patients in int_care_evidence_attribution_scope (what changed, and
    what T moved) and replaces those patients' rows
    (macros/replace_scope.sql); every other row stays. On Spark, and on a
    full build, everything is computed. -#}
-- depends_on: {{ ref('int_care_evidence_attribution_scope') }}, {{ ref('int_referral_scope_changes') }}, {{ ref('int_care_evidence_attributed_before') }}
{{ replace_scope_config('int_care_evidence_attribution_scope', 'patient_id') }}
{%- set networked = ref('int_care_evidence_networked') %}
{#- On a daily build (DuckDB, stored tables, a recorded last build), the
    evidence of the patients in scope without reading the whole evidence
    table (a patient's rows are spread over all of it): what this build
    rewrote (`_built_at` after the last build's end, which DuckDB finds in
    the row groups written since); every other row they had, as the last
    build attributed it (int_care_evidence_attributed_before: the rows it
    left unchanged are the same evidence); and the claim lines T now counts
    that it did not (dated between the two builds' T). Otherwise every row
    of the patients in scope, looked up by patient. -#}
{%- set built = built_since() if is_incremental() and networked.schema is not none else none %}
{%- set evidence_columns = ['evidence_type', 'evidence_id', 'patient_id', 'provider_npi', 'referral_id',
                            'evidence_date', 'appointment_status', 'booked_at', 'allowed_amount',
                            'specialty_group', 'is_in_network', 'organization_id'] %}
with

parameters as (
    select * from {{ ref('int_parameters') }}
),

{#- The rules that depend on T: a paid claim line counts when its service
    date is on or before T; attended. -#}
evidence as (
    select
        networked.evidence_type,
        networked.evidence_id,
        networked.patient_id,
        networked.provider_npi,
        networked.referral_id,
        networked.evidence_date,
        networked.appointment_status,
        networked.booked_at,
        case
            when networked.evidence_type = 'appointment'
                then {{ is_attended_appointment('networked.appointment_status', 'networked.evidence_date', 'parameters.as_of_date') }}
        end as is_attended,
        networked.allowed_amount,
        networked.specialty_group,
        networked.is_in_network,
        networked.organization_id
    from (
        {%- if built is not none %}
        {%- set moved = moved_dates(landed_since()) %}
        select {{ evidence_columns | join(', ') }}, is_evidence
        from {{ networked }}
        where _built_at > {{ built }}
            and patient_id in (select patient_id from {{ ref('int_care_evidence_attribution_scope') }})
        union all
        select {{ evidence_columns | join(', ') }}, true as is_evidence
        from {{ ref('int_care_evidence_attributed_before') }} as before
        where not exists (
            select 1
            from {{ networked }} as rewritten
            where rewritten._built_at > {{ built }}
                and rewritten.evidence_type = before.evidence_type
                and rewritten.evidence_id = before.evidence_id
        )
        union all
        select {{ evidence_columns | join(', ') }}, is_evidence
        from {{ networked }}
        where _built_at <= {{ built }}
            and evidence_type = 'claim_line'
            and evidence_date > {{ moved.after_date }} and evidence_date <= {{ moved.through_date }}
            and patient_id in (select patient_id from {{ ref('int_care_evidence_attribution_scope') }})
        {%- else %}
        select * from {{ networked }}
        {{ in_scope('patient_id', 'int_care_evidence_attribution_scope', relation=networked) }}
        {%- endif %}
    ) as networked
    cross join parameters
    where networked.is_evidence
        and (networked.evidence_type = 'appointment' or networked.evidence_date <= parameters.as_of_date)
),

{#- On a daily build, of the eligible referrals only those the scope's evidence
    names and those of the scope's patients (the ones it can match); each read
    from the view on its own: a CTE read twice is materialized whole. -#}
{%- set eligible = ref('int_referrals_eligible') %}
{%- if is_incremental() %}
named_referrals as (
    select * from {{ eligible }}
    where referral_id in (select referral_id from evidence)
),

patient_referrals as (
    select * from {{ eligible }}
    where patient_id in (select patient_id from {{ ref('int_care_evidence_attribution_scope') }})
),
{%- else %}
named_referrals as (
    select * from {{ eligible }}
),

patient_referrals as (
    select * from {{ eligible }}
),
{%- endif %}

explicit as (
    select
        evidence.evidence_type,
        evidence.evidence_id,
        referrals.referral_id as attributed_referral_id,
        'explicit' as attribution_method
    from evidence
    inner join named_referrals as referrals
        on evidence.referral_id = referrals.referral_id
),

match_candidates as (
    select
        evidence.evidence_type,
        evidence.evidence_id,
        referrals.referral_id as attributed_referral_id,
        referrals.created_at
    from evidence
    inner join patient_referrals as referrals
        on evidence.patient_id = referrals.patient_id
        and evidence.specialty_group = referrals.specialty_group
        and referrals.created_date <= evidence.evidence_date
        and {{ days_between('referrals.created_date', 'evidence.evidence_date') }} <= {{ var('attribution_window_days') }}
    where evidence.referral_id is null
),

best_match as (
    {{ deduplicate('match_candidates', 'evidence_type, evidence_id', 'created_at desc, attributed_referral_id desc') }}
),

matched as (
    select
        evidence_type,
        evidence_id,
        attributed_referral_id,
        'matched' as attribution_method
    from best_match
),

attribution as (
    select * from explicit
    union all
    select * from matched
),

final as (
    select
        evidence.*,
        attribution.attributed_referral_id,
        attribution.attribution_method,
        cast({{ dbt.current_timestamp() }} as timestamp) as _built_at
    from evidence
    left join attribution
        on evidence.evidence_type = attribution.evidence_type
        and evidence.evidence_id = attribution.evidence_id
)

select * from final
