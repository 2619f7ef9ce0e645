{#- Every appointment and claim line (latest version), one row each, with
    the provider's directory row on its date (docs/metrics.md, Building
    blocks); `is_evidence` says whether it is care evidence: a booked
    appointment or a paid claim line (macros/evidence_rules.sql).
    - the directory row of an NPI on day d has effective_from <= d <=
      coalesce(effective_to, far future); of several, in_network = true wins,
      then the latest effective_from;
    - specialty group: the evidence's own code, else the directory row on its
      date, else the NPI's row with the latest effective_from; an NPI not in
      the directory gives no group;
    - in network on day d: that row says in_network; no row that day = out of
      network. Without any providers data, appointments are in network and
      claim lines have unknown (null) network status.

    T does not enter here: the rules that depend on it (a claim line counts
    when its service date is on or before T; attended) are applied where
    evidence is attributed. So this, the largest intermediate table, is kept
    incrementally (docs/deploy.md, Daily loads): a daily build recomputes the
    rows whose appointment or claim line has a new version, and every row of
    an NPI whose directory rows changed, and merges them on
    (evidence_type, evidence_id). Rows that stop being evidence stay, with
    `is_evidence` false, so a merge never has to delete. `_built_at` is when
    the row was last computed: attribution recomputes the patients of the
    rows this build wrote (int_care_evidence_attribution_scope). -#}
{{ version_layer_config(['evidence_type', 'evidence_id']) }}
{%- if is_incremental() %}
{#- What the last build merged: every row landed before it started
    (macros/landed_since.sql); without a build recorded (Spark), up to the
    newest version in this table. -#}
{%- set since = 'coalesce(' ~ (landed_since() or '(select max(loaded_at) from ' ~ this ~ ')')
                ~ ", cast('1900-01-01' as timestamp))" %}
{%- endif %}
with

appointments as (
    select * from {{ ref('int_appointments_deduplicated') }}
),

claims as (
    select * from {{ ref('int_claims_deduplicated') }}
),

providers as (
    select * from {{ ref('int_providers_deduplicated') }}
),

parameters as (
    select * from {{ ref('int_parameters') }}
),

{% if is_incremental() -%}
changed_npis as (
    select distinct providers.npi
    from providers
    where providers.loaded_at > {{ since }}
),

{#- With providers data but no directory rows when the last build ran, every
    row's network status may change (appointments were in network by default). -#}
directory_was_empty as (
    select count(*) = 0 as is_empty
    from providers
    where providers.loaded_at <= {{ since }}
),
{%- endif %}

{#- On a DuckDB daily build, the rows computed again are chosen in the scans of
    the two version tables: the versions landed since the last build; the other
    rows of NPIs whose directory rows changed; every other row when the
    directory was empty and is not now. Each is its own scan, so DuckDB applies
    the first filter in the scan (the rows' other columns are read only where
    it matches), and skips the others when their subquery is empty; a filter
    joining one-row CTEs would read every column of every row first. -#}
{%- set rows = {'appointments': 'appointments', 'claims': 'claims'} %}
{%- if is_incremental() and target.type == 'duckdb' %}
{%- set all_again = 'exists (select 1 from directory_was_empty cross join parameters '
                    ~ 'where directory_was_empty.is_empty and parameters.has_providers)' %}
{%- for name, model, npi in [('appointments', 'int_appointments_deduplicated', 'provider_npi'),
                             ('claims', 'int_claims_deduplicated', 'rendering_npi')] %}
{%- set table = ref(model) %}
{%- do rows.update({name: '(select * from ' ~ table ~ ' where loaded_at > ' ~ since
    ~ ' union all select * from ' ~ table ~ ' where loaded_at <= ' ~ since ~ ' and ' ~ npi
    ~ ' in (select npi from changed_npis) and not ' ~ all_again
    ~ ' union all select * from ' ~ table ~ ' where loaded_at <= ' ~ since ~ ' and ' ~ all_again ~ ')'}) %}
{%- endfor %}
{%- endif %}

all_evidence as (
    select
        'appointment' as evidence_type,
        appointment_id as evidence_id,
        patient_id,
        provider_npi,
        referral_id,
        specialty_group as own_specialty_group,
        cast(start_at as date) as evidence_date,
        status as appointment_status,
        booked_at,
        cast(null as decimal(18, 4)) as allowed_amount,
        {{ is_booked_appointment('status') }} as is_evidence,
        loaded_at
    from {{ rows['appointments'] }} as appointments

    union all

    select
        'claim_line' as evidence_type,
        {{ dbt.concat(['claim_id', "'#'", 'cast(line_number as ' ~ dbt.type_string() ~ ')']) }} as evidence_id,
        patient_id,
        rendering_npi as provider_npi,
        referral_id,
        specialty_group as own_specialty_group,
        service_date as evidence_date,
        cast(null as {{ dbt.type_string() }}) as appointment_status,
        cast(null as timestamp) as booked_at,
        allowed_amount,
        {{ is_paid_claim_line('claim_status', 'allowed_amount') }} as is_evidence,
        loaded_at
    from {{ rows['claims'] }} as claims
),

{% if is_incremental() and target.type == 'spark' -%}
changed as (
    select all_evidence.*
    from all_evidence
    cross join directory_was_empty
    cross join parameters
    where all_evidence.loaded_at > {{ since }}
        or (directory_was_empty.is_empty and parameters.has_providers)
        or all_evidence.provider_npi in (select npi from changed_npis)
),

{#- Spark rewrites whole key buckets: every row of the buckets changed rows fall in. -#}
evidence as (
    select *
    from all_evidence
    where {{ version_bucket(['evidence_type', 'evidence_id']) }} in (
        select {{ version_bucket(['evidence_type', 'evidence_id']) }} from changed
    )
),
{%- else -%}
evidence as (
    select * from all_evidence
),
{%- endif %}

directory_matches as (
    select
        evidence.evidence_type,
        evidence.evidence_id,
        providers.is_in_network,
        providers.specialty_group,
        providers.organization_id,
        providers.effective_from
    from evidence
    inner join providers
        on evidence.provider_npi = providers.npi
        and {{ directory_row_covers('providers', 'evidence.evidence_date') }}
),

directory_on_date as (
    {{ deduplicate('directory_matches', 'evidence_type, evidence_id', directory_row_precedence()) }}
),

latest_directory_row as (
    {{ deduplicate('providers', 'npi', 'effective_from desc') }}
),

final as (
    select
        evidence.evidence_type,
        evidence.evidence_id,
        evidence.patient_id,
        evidence.provider_npi,
        evidence.referral_id,
        evidence.evidence_date,
        evidence.appointment_status,
        evidence.booked_at,
        evidence.allowed_amount,
        coalesce(
            evidence.own_specialty_group,
            directory_on_date.specialty_group,
            latest_directory_row.specialty_group
        ) as specialty_group,
        case
            when parameters.has_providers then coalesce(directory_on_date.is_in_network, false)
            when evidence.evidence_type = 'appointment' then true
        end as is_in_network,
        directory_on_date.organization_id,
        evidence.is_evidence,
        evidence.loaded_at,
        cast({{ dbt.current_timestamp() }} as timestamp) as _built_at,
        {{ version_bucket(['evidence.evidence_type', 'evidence.evidence_id']) }} as _version_bucket
    from evidence
    cross join parameters
    left join directory_on_date
        on evidence.evidence_type = directory_on_date.evidence_type
        and evidence.evidence_id = directory_on_date.evidence_id
    left join latest_directory_row
        on evidence.provider_npi = latest_directory_row.npi
)

select * from final
