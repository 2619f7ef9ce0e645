{#- The referrals whose per-referral rows a daily build computes again
    (int_referral_evidence_summarized, int_referral_outcomes_assigned,
    marts.fct_referrals, marts.fct_referral_outreach and marts.fct_engagements
    keep the other referrals' rows;
    macros/replace_scope.sql): what int_referral_scope_changes found before
    attribution was replaced, and the referrals whose attributed evidence
    differs between the attribution the last build left for the patients
    attributed again (int_care_evidence_attributed_before) and the new one:
    a row that came, went, moved to another referral or changed in any
    column names its referral before and after. A patient's evidence that
    attributes as it did (a primary-care claim line attributed to nothing,
    the unchanged rows of a patient with one new appointment) puts no
    referral in scope. Empty on a full build and on Spark. -#}
with

changes as (
    select * from {{ ref('int_referral_scope_changes') }}
),

attributed as (
    select * from {{ ref('int_care_evidence_attributed') }}
),

before as (
    select * from {{ ref('int_care_evidence_attributed_before') }}
),

attribution_scope as (
    select * from {{ ref('int_care_evidence_attribution_scope') }}
),

{#- Every column of the attributed rows but when it was computed
    (`_built_at`): a set difference compares them all (nulls compare
    equal). Should the copy not have the table's columns (the first build; a
    build after the model changed, which is a full one), every referral
    either side names is in scope. -#}
{%- set columns = adapter.get_columns_in_relation(ref('int_care_evidence_attributed')) | map(attribute='name') | list if execute else [] %}
{%- set before_columns = adapter.get_columns_in_relation(ref('int_care_evidence_attributed_before')) | map(attribute='name') | list if execute else [] %}
{%- set compared = columns | reject('equalto', '_built_at') | join(', ') %}
{%- set built = built_since() %}

{#- The new attribution of the patients in scope: rows attribution wrote in
    this build, so DuckDB looks for them in the row groups written since the
    last build only (macros/replace_scope.sql, in_scope `written`). -#}
after as (
    select {{ compared or '*' }}
    from attributed
    where patient_id in (select patient_id from attribution_scope)
    {%- if built is not none and '_built_at' in columns %}
        and _built_at > {{ built }}
    {%- endif %}
),
{% if columns and before_columns == columns %}
differing as (
    (select * from after except select {{ compared }} from before)
    union all
    (select {{ compared }} from before except select * from after)
),
{%- else %}
differing as (
    select attributed_referral_id from after
    {%- if 'attributed_referral_id' in before_columns %}
    union all
    select attributed_referral_id from before
    {%- endif %}
),
{%- endif %}

final as (
    select referral_id from changes
    union
    select attributed_referral_id as referral_id
    from differing
    where attributed_referral_id is not null
)

select * from final
