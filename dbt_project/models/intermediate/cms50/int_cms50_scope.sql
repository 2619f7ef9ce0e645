{#- The patients whose CMS50 first referrals a daily build computes again
    (int_cms50_first_referrals keeps the other patients' rows;
    macros/replace_scope.sql). A patient's first referral of a measurement
    year, and whether it has a report, depend only on that patient's
    eligible referrals (their version, and T passing a created date) and on
    the consult reports of those referrals. int_referral_scope_changes holds
    every referral of a patient one of whose referrals has a new version or
    became eligible (the patient of every version, before and after) and the
    referrals whose events have a new version (their referral before and
    after). So a patient is in scope when a referral in it is theirs now, or
    was theirs in the last build's rows (a referral that moved to another
    patient leaves its first patient with none). Empty on a full build and
    on Spark (the first referrals are then computed whole). -#}
-- depends_on: {{ ref('int_referral_scope_changes') }}
{%- set previous = adapter.get_relation(database=this.database, schema=this.schema,
                                        identifier='int_cms50_first_referrals') if execute else none %}

with

changes as (
    select * from {{ ref('int_referral_scope_changes') }}
),

referrals as (
    select * from {{ ref('int_referrals_deduplicated') }}
),

{% if previous is none or previous.type != 'table' or target.type != 'duckdb' or flags.FULL_REFRESH -%}
patients as (
    select patient_id from referrals where 1 = 0
),
{%- else -%}
{#- The referrals and the last build's rows are read where they are
    filtered, not through a CTE: DuckDB may materialize a CTE whole before
    any filter applies. (The CTEs above stay: their refs declare this
    model's dependencies when dbt parses it, with this branch not
    rendered.) -#}
patients as (
    select referrals.patient_id
    from {{ ref('int_referrals_deduplicated') }} as referrals
    where referrals.referral_id in (select referral_id from changes)
    union
    select previous.patient_id
    from {{ previous }} as previous
    where previous.referral_id in (select referral_id from changes)
),
{%- endif %}

final as (
    select distinct patient_id
    from patients
    where patient_id is not null
)

select * from final
