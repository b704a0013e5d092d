// A frontend's view of one team: its objectives, paged with @connection and refetchable by
// the team's ID (Relay's pagination pattern). Compiled by tests/graphql/test_relay_compiler.py.
import { graphql } from "react-relay";

export const teamObjectives = graphql`
  fragment TeamObjectives_team on Team
  @refetchable(queryName: "TeamObjectivesPaginationQuery")
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 10 }
    cursor: { type: "String" }
  ) {
    name
    objectives(first: $count, after: $cursor)
      @connection(key: "TeamObjectives_objectives") {
      totalCount
      edges {
        node {
          id
          title
          health
          progress
          keyResults {
            id
            title
            checkIns(first: 3) {
              totalCount
              edges {
                node {
                  id
                  value
                  checkedAt
                }
              }
            }
          }
        }
      }
    }
  }
`;

export const organization = graphql`
  fragment TeamObjectives_organization on Organization
  @refetchable(queryName: "OrganizationRefetchQuery") {
    name
  }
`;

export const teamPage = graphql`
  query TeamObjectivesQuery($team: ID!) {
    team: node(id: $team) {
      ...TeamObjectives_team @alias
    }
    viewer {
      organization {
        ...TeamObjectives_organization
      }
    }
  }
`;
