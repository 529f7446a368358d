"""Skills and profiles: Skill taxonomy, volunteer profiles, constituencies and organiser search."""
