{#- The patients whose evidence a daily build attributes again
    (int_care_evidence_attributed keeps the other patients' rows; docs/deploy.md,
    Daily loads). Which referral a piece of evidence belongs to depends only on
    the evidence row itself, on T (a claim line counts through T; attended is
    on or before T), on the referral its referral_id names (explicit) and on
    the eligible referrals of its own patient (matched). So a patient's
    attributed rows can change only when:
    1. a row of theirs was rewritten in the evidence table by this build (a new
       version, a directory change): its patient now, and its patient before;
    2. one of their rows is dated between the last build's T and this one's;
    3. a referral changed: a new version landed, or T passed its created date
       (it became eligible, or stopped being): its patient, the patients whose
       evidence names it, and the patients whose evidence was attributed to it.
    Reads the attributed table as the last build left it (a plain relation, not
    a ref: attribution is built after this). Empty on a full build and on Spark
    (attribution is then computed whole); every patient when the last build is
    not recorded. -#}
-- depends_on: {{ ref('stg_extracts__referrals') }}, {{ ref('stg_extracts__appointments') }}, {{ ref('stg_extracts__claims') }}
{%- set previous = adapter.get_relation(database=this.database, schema=this.schema,
                                        identifier='int_care_evidence_attributed') if execute else none -%}
{%- set landed = landed_since() -%}
{%- set built = built_since() %}

with

networked as (
    select * from {{ ref('int_care_evidence_networked') }}
),

referrals as (
    select * from {{ ref('int_referrals_deduplicated') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

{% if previous is none or target.type != 'duckdb' or flags.FULL_REFRESH -%}
patients as (
    select patient_id from networked where 1 = 0
),
{%- elif landed is none -%}
patients as (
    select patient_id from networked
    union
    select patient_id from {{ previous }}
),
{%- else -%}
{#- The evidence and attributed tables are read where they are used, not
    through CTEs: a CTE used twice is materialized whole (5 million rows at a
    million referrals) before any filter applies. -#}

{#- Dates whose standing moved with T: after_date < d <= through_date
    (literals: macros/data_as_of_date.sql). Each condition is its own scan,
    so that DuckDB applies it there. -#}
{%- set moved = moved_dates(landed) %}
rewritten_evidence as (
    select
        networked.evidence_type,
        networked.evidence_id,
        networked.patient_id
    from {{ ref('int_care_evidence_networked') }} as networked
    where networked._built_at > {{ built }}
    union
    select
        networked.evidence_type,
        networked.evidence_id,
        networked.patient_id
    from {{ ref('int_care_evidence_networked') }} as networked
    where networked.evidence_date > {{ moved.after_date }} and networked.evidence_date <= {{ moved.through_date }}
),

changed_referrals as (
    select
        referrals.referral_id,
        referrals.patient_id
    from {{ ref('int_referrals_deduplicated') }} as referrals
    where referrals.loaded_at > {{ landed }}
    union
    select
        referrals.referral_id,
        referrals.patient_id
    from {{ ref('int_referrals_deduplicated') }} as referrals
    where {{ date_of_between('referrals.created_at', moved.after_date ~ ' + 1', moved.through_date) }}
),

patients as (
    select patient_id from rewritten_evidence
    union
    select previous.patient_id
    from {{ previous }} as previous
    where (previous.evidence_type, previous.evidence_id) in (select evidence_type, evidence_id from rewritten_evidence)
    union
    select patient_id from changed_referrals
    union
    select networked.patient_id
    from {{ ref('int_care_evidence_networked') }} as networked
    inner join changed_referrals
        on networked.referral_id = changed_referrals.referral_id
    union
    select previous.patient_id
    from {{ previous }} as previous
    inner join changed_referrals
        on previous.attributed_referral_id = changed_referrals.referral_id
),
{%- endif %}

final as (
    select distinct patient_id
    from patients
)

select * from final
