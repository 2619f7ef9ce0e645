{#- Whole calendar days from `start_date` to `end_date` (negative when the
    end is earlier). -#}
{% macro days_between(start_date, end_date) -%}
    cast({{ dbt.datediff(start_date, end_date, 'day') }} as integer)
{%- endmacro %}
