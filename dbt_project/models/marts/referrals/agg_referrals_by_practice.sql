{{ referral_aggregate(['created_month', 'specialty_group', 'referring_location_id'], kept_by_cell=true) }}
